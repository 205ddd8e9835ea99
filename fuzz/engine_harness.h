/* SPDX-License-Identifier: MIT */
/* What the three files of the engine fuzzer share (fuzz_engine.c: the program and its ending;
 * engine_actions.c: what a step does to the engine; engine_futures.c: what comes back, and the
 * callbacks). One input, one loop: everything here is reset for each input. */
#ifndef FZ_ENGINE_HARNESS_H
#define FZ_ENGINE_HARNESS_H

#include "engine_model.h"
#include "ursock.h"

#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

enum {
	MAX_EP = 16,
	MAX_REC = 384,
	MAX_HELD = 64,
	MAX_STALE = 32,
	MAX_FILES = 4,
	MAX_STEPS = 300,
	INTO_MAX = 4096,
	BUDGET_MS = 250, /* steps stop after this; the ending follows */
	SENTINEL = 0x5eed
};

enum rkind {
	RK_NOP,
	RK_SLEEP,
	RK_GUARD, /* a timer whose callback cancels the future an await waits for */
	RK_CLOSE,
	RK_ACCEPT,
	RK_ACCEPT_STREAM,
	RK_CONNECT,
	RK_RECV,
	RK_RECV_INTO,
	RK_RECV_STREAM,
	RK_RECVFROM,
	RK_RFSTREAM,
	RK_SEND,
	RK_SENDALL,
	RK_SHUTDOWN
};
extern const char *const rk_name[];

enum rstate {
	ST_FAILED,   /* failed at once */
	ST_OPEN,     /* started, no consumer yet */
	ST_THEN,     /* a callback is attached */
	ST_DETACHED, /* nobody consumes it */
	ST_DONE,     /* its resolution was seen (callback or await) */
	ST_DROPPED   /* its socket was freed before it resolved: no callback may run */
};
extern const char *const st_name[];

/* What a callback does, chosen when it is attached. */
enum script {
	SC_HOLD,         /* keep the buffers it gets */
	SC_RELEASE,      /* give them back at once */
	SC_FREE_OWN,     /* urs_sock_free its socket */
	SC_CANCEL_OTHER, /* urs_cancel another future */
	SC_CANCEL_SELF,  /* urs_cancel its own future (a stream, mid-stream) */
	SC_CLOSE_OWN,    /* urs_close its socket */
	SC_START,        /* start a receive or a send on its socket */
	SC_REENTER,      /* await, run and free the loop from inside: all -EDEADLK */
	SC_FREE_PEER,    /* free (or reset) the other end */
	SC_RELEASE_ALL,  /* give back every buffer held */
	SC_DETACH_OTHER, /* urs_detach another future */
	SC__COUNT
};

struct rec {
	urs_future f;
	uint8_t kind, st, script, arg;
	int ep;          /* its socket, -1 for none */
	int target;      /* guard: the record it cancels */
	uint32_t tx;     /* send: its index in the socket's direction */
	uint32_t len;
	int flags;       /* msg flags; shutdown: how */
	bool timed;      /* the socket's timeout (or non-blocking mode) bounds it */
	bool cancelled;  /* urs_cancel answered 0 */
	bool early;      /* the callback was attached as it started */
	bool sync;       /* it may resolve inside the call that starts it */
	bool awaiting;   /* urs_await is waiting for it (further down the stack) */
	bool solo;       /* a receive no other receive on its socket overlapped */
	bool must_whole; /* a send before a shutdown(SHUT_WR) that succeeded: whole or nothing */
	bool starved;    /* a receive started while the harness held every buffer */
	uint32_t tx_before; /* shutdown: the sends issued before it */
	bool script_done;
	int finals, events;
};

struct ep {
	bool raw;      /* a plain fd the harness drives itself */
	bool listener;
	bool tcp;
	urs_sock *s;
	int fd;        /* raw: its fd, -1 once closed */
	int type;
	int peer;      /* the other end, -1 when unknown */
	uint16_t port; /* TCP: the local port, to pair an accepted socket with its client */
	bool freed;    /* urs_sock_free called: the pointer is never used again */
	bool closing;  /* a close started: every new call answers -EBADF */
	bool close_cb; /* its close callback ran */
	bool husk;     /* the loop is gone */
	double timeout;
	int rx_out;    /* receives on it whose results the model has not seen */
	bool shut_rd;  /* shutdown(SHUT_RD or SHUT_RDWR) was asked */
	bool rcv_shut; /* its read side is shut (its own SHUT_RD or the peer's SHUT_WR) */
	int files;
	struct fz_dir tx; /* what it sends */
	char name[40];
};

struct held {
	urs_buf b;
	uint64_t sum;
};

/* Everything the harness knows about the current input: reset for each. */
struct harness {
	urs_loop *loop;
	urs_loop_opts opts;
	unsigned features;
	unsigned gen;
	struct ep ep[MAX_EP];
	int nep;
	struct rec rec[MAX_REC];
	int nrec;
	struct held held[MAX_HELD];
	int nheld;
	urs_buf stale[MAX_STALE]; /* copies of released views, for stale releases */
	int nstale;
	unsigned stale_seen;
	struct {
		FILE *f;
		int ep;
	} file[MAX_FILES]; /* FILEs from urs_makefile */
	int listener;        /* the engine's TCP listener, -1 none */
	urs_addr laddr;
	int raw_lfd;         /* a plain TCP listener for plain-fd peers */
	struct sockaddr_in raw_laddr;
	int depth;           /* > 0 inside a callback */
	bool tearing;        /* inside urs_loop_free */
	int step;
	int64_t t_end;
	int fd_base;
	bool trace;
};
extern struct harness M;

/* What the inputs reached (FUZZ_ENGINE_STATS=1 prints it at exit): the checks that need a
 * rare state, to see that the corpus gets there. */
enum {
	CT_INPUTS,
	CT_STALL_AWAIT,
	CT_STALL_RUN,
	CT_GUARD_CANCEL,
	CT_STALE_RELEASE,
	CT_TEARDOWN,
	CT_DRAIN,
	CT_HUSK,
	CT_FILE_AFTER_LOOP,
	CT_END_CHECKED,
	CT_HOLE_SKIPPED,
	CT_ACCEPTED,
	CT_REENTER,
	CT_FREE_IN_CB,
	CT__COUNT
};
extern unsigned long counts[CT__COUNT];

/* A urs_recv_into target per record: the kernel's until that receive resolves. */
extern uint8_t into[MAX_REC][INTO_MAX];

/* fuzz_engine.c: the step trace (printed with a failure), known engine defects. */
void trace(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
bool is_strict(const char *name);
bool known(const char *name);
#define CHECK(cond, ...)                      \
	do {                                  \
		if (!(cond))                  \
			fz_fail(__VA_ARGS__); \
	} while (0)

/* engine_futures.c: records of started ops, their consumers and results. */
bool is_recv(int kind);
bool is_stream(int kind);
bool resolved(const struct rec *rc);
void *user_of(int ri);
int rec_new(int kind, int ep);
struct fz_dir *rx_dir(int ep);
void rx_lost(int ep);
void rx_done(int ep);
bool started(int ri, urs_future f, int want);
void consume(int ri, uint8_t how);
void on_result(urs_result *r, void *user);
void then_rec(int ri, uint8_t script, uint8_t arg);
void detach_rec(int ri);
void do_cancel(int ri);
void do_detach(int ri);
void await_rec(int ri);

/* engine_actions.c: sockets, ops, buffers and loop runs. */
void take_buf(urs_buf *b, bool hold, bool message);
void release_held(int i);
void release_all(void);
int ep_new(bool raw, int type, bool tcp, urs_sock *s, int fd);
void pair(int a, int b);
urs_sock *live(int ep);
int pick_ep(uint8_t b, bool (*ok)(const struct ep *));
bool ok_engine(const struct ep *e);
bool ok_raw(const struct ep *e);
bool ok_listener(const struct ep *e);
void free_ep(int ep, const char *why);
void adopt_accepted(urs_sock *s, bool free_it);
int timeout_err(int ep);
void start_send(int ep, uint8_t how, int kind, uint32_t size, int flags);
void start_recv(int ep, uint8_t how, int kind, uint32_t size, int flags);
void raw_reset(int ep);
void new_socketpair(uint8_t b);
void new_raw_pair(uint8_t b);
void new_tcp(uint8_t b, uint8_t how);
void check_stats(void);
void run_once(unsigned ms);
void stall_check(uint8_t b);
void release_bad(uint8_t b);
void forged_future(uint8_t b);

#endif
