/* SPDX-License-Identifier: MIT */
/* Many loops, one service: what other threads may do to a loop. A loop belongs to the
 * thread that made it; from any thread one may post a function to run on it, wake it, or
 * stop it — nothing else. Posts queue under a mutex (one FIFO: each sender's posts keep
 * their order) and the first one after the loop last looked wakes it: by IORING_OP_MSG_RING
 * from the sender's own ring where the sender runs a loop (urs_loop_post_from), else by
 * writing the loop's eventfd, which its backend listens on. */
#include "internal.h"

#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

int urs__posts_init(urs_loop *loop)
{
	loop->owner = pthread_self();
	loop->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (loop->wake_fd < 0)
		return urs__sys(-1);
	int ret = pthread_mutex_init(&loop->post_mu, NULL);
	if (ret) {
		close(loop->wake_fd);
		return -ret;
	}
	return 0;
}

void urs__posts_fini(urs_loop *loop)
{
	/* A stop or post from another thread may still be writing the eventfd after the loop
	 * saw its flag or its post: let it finish before the fd goes. */
	while (atomic_load(&loop->xcalls))
		sched_yield();
	pthread_mutex_destroy(&loop->post_mu);
	free(loop->posts);
	free(loop->posts_run);
	close(loop->wake_fd);
}

/* Async-signal-safe: one write to an eventfd. */
static void signal_loop(urs_loop *loop)
{
	uint64_t one = 1;
	(void)!write(loop->wake_fd, &one, sizeof(one));
}

URS_API int urs_loop_wake(urs_loop *loop)
{
	if (!loop)
		return -EINVAL;
	atomic_fetch_add(&loop->xcalls, 1);
	signal_loop(loop);
	atomic_fetch_sub(&loop->xcalls, 1);
	return 0;
}

URS_API void urs_loop_stop(urs_loop *loop)
{
	if (!loop)
		return;
	atomic_fetch_add(&loop->xcalls, 1); /* before the flag: the loop may free once it sees it */
	atomic_store(&loop->stop, true);
	signal_loop(loop);
	atomic_fetch_sub(&loop->xcalls, 1);
}

/* Queues fn under the lock; returns 0 and whether the loop must be woken, or -ENOMEM. */
static int enqueue(urs_loop *loop, urs_post_fn fn, void *arg, bool *wake)
{
	pthread_mutex_lock(&loop->post_mu);
	if (loop->nposts == loop->cap_posts) {
		uint32_t cap = loop->cap_posts ? loop->cap_posts * 2 : 64;
		struct urs_post *p = realloc(loop->posts, cap * sizeof(*p));
		if (!p) {
			pthread_mutex_unlock(&loop->post_mu);
			return -ENOMEM;
		}
		loop->posts = p;
		loop->cap_posts = cap;
	}
	loop->posts[loop->nposts++] = (struct urs_post){ fn, arg };
	pthread_mutex_unlock(&loop->post_mu);
	*wake = !atomic_exchange(&loop->wake_pending, true);
	return 0;
}

URS_API int urs_loop_post(urs_loop *loop, urs_post_fn fn, void *arg)
{
	if (!loop || !fn)
		return -EINVAL;
	bool wake;
	atomic_fetch_add(&loop->xcalls, 1);
	int ret = enqueue(loop, fn, arg, &wake);
	if (ret == 0 && wake)
		signal_loop(loop);
	atomic_fetch_sub(&loop->xcalls, 1);
	return ret;
}

URS_API int urs_loop_post_from(urs_loop *from, urs_loop *to, urs_post_fn fn, void *arg)
{
	if (!from || !to || !fn)
		return -EINVAL;
	if (!urs__mine(from))
		return -EXDEV;
	bool wake;
	atomic_fetch_add(&to->xcalls, 1);
	int ret = enqueue(to, fn, arg, &wake);
	if (ret < 0 || !wake) {
		atomic_fetch_sub(&to->xcalls, 1);
		return ret;
	}
	/* The wake rides on the sender's next submission: a CQE posted straight into the
	 * receiver's ring, no syscall of its own. */
	struct io_uring_sqe *sqe = NULL;
	if (from != to && (from->features & URS_FEAT_MSG_RING) && to->be == &urs__be_uring)
		sqe = urs__sqe(from, 1);
	if (!sqe) {
		signal_loop(to);
	} else {
		io_uring_prep_msg_ring(sqe, to->ring.ring_fd, 0, urs__ud_loop(UD_LOOP_WAKE_MSG), 0);
		sqe->user_data = urs__ud_loop(UD_LOOP_IGNORE);
		from->inflight++;
	}
	atomic_fetch_sub(&to->xcalls, 1);
	return 0;
}

/* Runs what was posted, in order, on the loop's thread. Returns how many. */
int urs__posts_run(urs_loop *loop)
{
	loop->woken = false;
	if (!atomic_load_explicit(&loop->wake_pending, memory_order_acquire))
		return 0;
	atomic_store(&loop->wake_pending, false);
	pthread_mutex_lock(&loop->post_mu);
	struct urs_post *run = loop->posts;
	uint32_t n = loop->nposts, cap = loop->cap_posts;
	loop->posts = loop->posts_run;
	loop->cap_posts = loop->cap_run;
	loop->nposts = 0;
	pthread_mutex_unlock(&loop->post_mu);
	loop->posts_run = run;
	loop->cap_run = cap;
	for (uint32_t i = 0; i < n; i++) {
		loop->depth++;
		run[i].fn(loop, run[i].arg);
		loop->depth--;
	}
	return (int)n;
}

/* ---------------------------------------------------------------- hand-off */

struct handoff {
	int fd, family, type, proto;
	int64_t timeout_ns;
	urs_cb cb;
	void *user;
};

/* On the receiving loop's thread: the fd becomes one of its sockets, the user hears. */
static void arrive(urs_loop *to, void *arg)
{
	struct handoff *h = arg;
	urs_result r;
	memset(&r, 0, sizeof(r));
	r.buf.id = URS_BUF_NONE;
	int err = 0;
	urs_sock *s = urs__sock_new(to, h->fd, h->family, h->type, h->proto, &err);
	if (!s) {
		close(h->fd);
		r.res = err;
	} else {
		s->timeout_ns = h->timeout_ns;
		urs__sock_adopted(s);
		r.sock = s;
	}
	h->cb(&r, h->user);
	free(h);
}

URS_API int urs_sock_handoff(urs_sock *s, urs_loop *to, urs_cb cb, void *user)
{
	int ret = urs__sock_check(s);
	if (ret < 0)
		return ret;
	if (!to || !cb)
		return -EINVAL;
	/* Its ops would have nowhere to complete; results nobody claimed yet stay with the
	 * object (awaited or detached later, never given a callback). */
	for (struct urs_op *o = urs__sock_ops(s); o; o = urs__sock_next(o))
		if (o->state != OP_DONE || (o->flags & (OPF_BOUND | OPF_DETACHED | OPF_AWAITED)))
			return -EBUSY;
	struct handoff *h = malloc(sizeof(*h));
	if (!h)
		return -ENOMEM;
	*h = (struct handoff){ s->fd, s->family, s->type, s->proto, s->timeout_ns, cb, user };
	ret = urs_loop_post_from(s->loop, to, arrive, h);
	if (ret < 0) {
		free(h);
		return ret;
	}
	urs__sock_orphan_results(s);
	urs__sock_give_away(s);
	return 0;
}
