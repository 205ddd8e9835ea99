#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Mutation check: each mutant breaks one behaviour the tests name, in a copy of the
committed tree (HEAD) under build/mutants/, and the tests that cover it must fail. `make mutants` runs them all;
`scripts/mutants.py NAME...` runs some. A mutant whose text no longer matches the code says
so (the code moved: update the mutant), and one that survives fails the run."""
import os, shutil, subprocess, sys, time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# name: (file, text in the code, its broken replacement, test binaries that must fail; a
# binary named test_x@epoll runs on that backend, URSOCK_BACKEND, else on the default)
MUTANTS = {
    "cancelled-queued-send-stays-queued": (
        "engine/src/op.c",
        "\t\turs__op_decide(op, -ECANCELED); /* leaves its queue and the heap there */\n",
        "\t\tstruct urs_opq *keep = queue_of(op);\n\t\turs__op_unpark(op);\n"
        "\t\turs__op_decide(op, -ECANCELED);\n\t\tif (keep)\n\t\t\turs__opq_push(keep, op);\n",
        ["test_lifetime"]),
    "cancelled-sendall-keeps-sending": (
        "engine/src/stream_ops.c",
        "\tif (res >= 0 && !(op->flags & (OPF_CANCEL | OPF_TIMEDOUT)))\n\t\treturn NEXT_AGAIN;",
        "\tif (res >= 0 && !(op->flags & OPF_TIMEDOUT)) {\n\t\top->flags &= ~OPF_CANCEL;\n"
        "\t\treturn NEXT_AGAIN;\n\t}",
        ["test_lifetime"]),
    "multishot-recvmsg-never-flags-truncation": (
        "engine/src/dgram_ops.c",
        "\tif ((o->flags & MSG_TRUNC) || o->payloadlen > x->blen)\n\t\tr.flags |= URS_RES_TRUNC;",
        "",
        ["test_udp", "test_unix"]),
    "epoll-drained-stream-reads-again": (
        "engine/src/stream_ops.c",
        "\t\tif (s->ep_rdrained && wait) {",
        "\t\tif (0 && s->ep_rdrained && wait) {",
        ["test_tcp@epoll"]),
    "epoll-drain-rule-waits-past-fin": (
        "engine/src/stream_ops.c",
        "\t\t\t    !(mf & MSG_PEEK) && !s->ep_rdend)",
        "\t\t\t    !(mf & MSG_PEEK))",
        ["test_tcp@epoll", "test_file@epoll"]),
    "shutdown-does-not-wait-for-sends": (
        "engine/src/stream_ops.c",
        "\treturn x->msgflags == SHUT_RD ? true : urs__ordered_start(op);",
        "\t(void)x;\n\treturn true;",
        ["test_lifetime"]),
    "failed-send-does-not-fail-the-queue": (
        "engine/src/stream_ops.c",
        "\t\tif (head) {\n\t\t\twhile ((o = urs__opq_pop(s->loop, &s->sendq)))\n\t\t\t\turs__op_decide(o, -EPIPE);\n\t\t} else",
        "\t\t(void)o;\n\t\tif (0) {\n\t\t} else",
        ["test_lifetime"]),
    "stale-buffer-release-accepted": (
        "engine/src/buf.c",
        "\tif (b->gen != cur)",
        "\tif (0 && b->gen != cur)",
        ["test_badinput"]),
    "close-does-not-wait-for-ops": (
        "engine/src/sock.c",
        "\tif (s->state != SOCK_CLOSING || s->nops || !op || op->state != OP_WAITING)",
        "\tif (s->state != SOCK_CLOSING || !op || op->state != OP_WAITING)",
        ["test_lifetime"]),
    "waiting-op-has-no-deadline": (
        "engine/src/op.c",
        "\tif (urs__op_deadline(op) && !(op->flags & OPF_HEAP))\n\t\turs__heap_add(urs__op_loop(op), op);",
        "",
        ["test_lifetime"]),
    "fallback-buffer-wakes-nobody": (
        "engine/src/buf.c",
        "\twhile ((w = urs__opq_pop(loop, &g->wait))) {",
        "\twhile (g->br && (w = urs__opq_pop(loop, &g->wait))) {",
        ["test_lifetime"]),
    "incremental-buffer-back-while-kernel-fills": (
        "engine/src/buf.c",
        "\tif (--b->pieces == 0 && !b->more)",
        "\tif (--b->pieces == 0)",
        ["test_recvbuf"]),
    "incremental-buffer-back-with-pieces-held": (
        "engine/src/buf.c",
        "\tif (--b->pieces == 0 && !b->more)",
        "\tif (--b->pieces <= 1 && !b->more)",
        ["test_recvbuf"]),
    "incremental-offset-not-kept": (
        "engine/src/buf.c",
        "\t\t\tb->off += len;",
        "\t\t\tb->off += 0;",
        ["test_recvbuf"]),
    "datagram-beside-incremental-ring": (
        "engine/src/buf.c",
        "\treturn s->loop->bg[URS_BG_SMALL].count ? URS_BG_SMALL : URS_BG_LOOP;",
        "\treturn URS_BG_LOOP;",
        ["test_recvbuf"]),
    "piece-released-twice": (
        "engine/src/buf.c",
        "\tif (loop->lend_state[slot] != LEND_USER)\n\t\treturn -EALREADY;",
        "",
        ["test_recvbuf"]),
    "bundle-only-first-buffer": (
        "engine/src/buf.c",
        "\t\tbool go_on = left > room && (g->inc || bundle);",
        "\t\tbool go_on = left > room && g->inc;\n\t\t(void)bundle;",
        ["test_recvbuf"]),
    "incremental-ring-not-rebuilt": (
        "engine/src/buf.c",
        "\t\tif (!g->made)\n\t\t\tcontinue;\n\t\tif (g->br) {\n\t\t\tio_uring_unregister_buf_ring",
        "\t\tif (!g->made || g->inc)\n\t\t\tcontinue;\n\t\tif (g->br) {\n\t\t\tio_uring_unregister_buf_ring",
        ["test_internal"]),
    "waitall-into-incremental-ring": (
        "engine/src/buf.c",
        "\t\treturn (flags & MSG_WAITALL) && s->loop->bg[URS_BG_SMALL].count",
        "\t\treturn 0 && (flags & MSG_WAITALL) && s->loop->bg[URS_BG_SMALL].count",
        ["test_recvbuf", "test_unix"]),
    "incremental-waiters-not-chained": (
        "engine/src/buf.c",
        "\tif (g->wait.head && bufs_free(g))\n\t\twake_one(loop, g);",
        "",
        ["test_tcp"]),
    "epoll-waiting-receive-keeps-buffer": (
        "engine/src/epoll.c",
        "\tif (park && claimed != URS_BUF_NONE && !urs__op_done(op)) {",
        "\tif (0 && park && claimed != URS_BUF_NONE && !urs__op_done(op)) {",
        ["test_recvbuf@epoll"]),
    "epoll-no-buffer-hides-the-end": (
        "engine/src/epoll.c",
        "\treturn res > 0 || res == -EAGAIN ? -ENOBUFS : res;",
        "\t(void)res;\n\treturn -ENOBUFS;",
        ["test_recvbuf@epoll"]),
    "sock-free-keeps-callbacks": (
        "engine/src/sock.c",
        "\t\tif ((o->flags & OPF_BOUND) && !(o->flags & OPF_AWAITED))",
        "\t\tif (0)",
        ["test_lifetime"]),
    "callback-inside-cancel": (
        "engine/src/op.c",
        "\turs__future_resolved(op);\n\tif (k->decided)",
        "\turs__future_resolved(op);\n\tif (op->flags & OPF_BOUND)\n\t\turs__ready_run(loop);\n\tif (k->decided)",
        ["test_loop", "test_lifetime"]),
    "watermark-round-trip-unreported": (
        "engine/src/stream_ops.c",
        "\tif (now == s->wm_over)\n\t\ts->wm_bounced = true;",
        "",
        ["test_threads@epoll"]),
    "sendfile-bytes-stay-queued": (
        "engine/src/file_ops.c",
        "\t\tx->done += (size_t)res;\n\t\turs__ordered_sent(op, res);\n\t\tbreak;\n\tcase SF_SENDFILE:",
        "\t\tx->done += (size_t)res;\n\t\tbreak;\n\tcase SF_SENDFILE:",
        ["test_sendfile", "test_examples"]),
    "getaddrinfo-from-another-thread": (
        "engine/src/resolve.c",
        "\tif (!urs__mine(loop))\n\t\treturn urs__future_err(-EXDEV);\n\tif (hints",
        "\tif (hints",
        ["test_threads"]),
    "numeric-host-sent-to-the-resolver": (
        "engine/src/resolve.c",
        "\tif (e == EAI_NONAME && host && *host && !asked) {",
        "\tif (host && *host) {",
        ["test_resolve"]),
    "cancel-miss-not-retried": (
        "engine/src/uring.c",
        "\tif (!push_cancel(loop, op))\n\t\top->flags &= ~OPF_CANCEL; /* no memory to remember it: urs_cancel again works */\n}",
        "}",
        ["test_lifetime"]),
    "queued-cancel-keeps-turn-waiting": (
        "engine/src/uring.c",
        "\treturn loop->inflight > loop->inflight_own || loop->backlog.head;",
        "\treturn loop->inflight > loop->inflight_own || loop->backlog.head || loop->ncancels;",
        ["test_internal"]),
    "unclaimed-result-leaves-its-socket": (
        "engine/src/op.c",
        "\tif (op->flags & (OPF_AWAITED | OPF_DETACHED))\n\t\tretire(op);",
        "\tif (!(op->flags & OPF_BOUND))\n\t\tretire(op);",
        ["test_lifetime"]),
    "waitall-glues-messages": (
        "engine/src/socket.c",
        "\treturn s && s->type != SOCK_STREAM ? flags & ~MSG_WAITALL : flags;",
        "\treturn flags;",
        ["test_unix"]),
    "shut-rd-zero-is-a-datagram": (
        "engine/src/dgram_ops.c",
        "(res == 0 && urs__sock_dgram(s) && !multi && !s->rd_shut)",
        "(res == 0 && urs__sock_dgram(s) && !multi)",
        ["test_unix"]),
    "dontwait-waits-for-a-buffer": (
        "engine/src/buf.c",
        "\tif (urs__op_dontwait(op)) {",
        "\tif (urs__op_nonblocking(op)) {",
        ["test_lifetime"]),
    "runner-waits-on-a-pipe": (
        "scripts/run-tests.sh",
        "\tURSOCK_BACKEND=$backend timeout -k 10 \"$per_test_timeout\" \"$t\" >\"$log\" 2>&1\n"
        "\trc=$?\n\tout=$(cat \"$log\")",
        "\tout=$(URSOCK_BACKEND=$backend timeout -k 10 \"$per_test_timeout\" \"$t\" 2>&1)\n\trc=$?",
        ["test_runner"]),
    "zc-buffer-back-before-notification": (
        "engine/src/op.c",
        "\t    !urs__sendbuf_owed(op)) {",
        "\t    1) {",
        ["test_sendbuf"]),
    "sent-buffer-never-returns": (
        "engine/src/stream_ops.c",
        "KF_RETRY | KF_COUNT | KF_X | KF_SEND,",
        "KF_RETRY | KF_COUNT | KF_X,",
        ["test_sendbuf", "test_sendbuf@epoll"]),
    "sendbuf-stale-copy-accepted": (
        "engine/src/sendbuf.c",
        "\tif (b->gen != p->gen[i])",
        "\tif (0 && b->gen != p->gen[i])",
        ["test_sendbuf", "test_sendbuf@epoll"]),
    "zc-chosen-on-unix": (
        "engine/src/sendbuf.c",
        "s->type == SOCK_STREAM &&\n\t\t    (s->family == AF_INET || s->family == AF_INET6)) {",
        "s->type == SOCK_STREAM) {",
        ["test_sendbuf"]),
}


def run(cmd, cwd, timeout=None):
    # A session of its own, killed whole on timeout: a hung test must not outlive its run.
    p = subprocess.Popen(cmd, cwd=cwd, shell=True, stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT, text=True, start_new_session=True)
    try:
        out, _ = p.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(p.pid, 9)
        p.communicate()
        raise
    return subprocess.CompletedProcess(cmd, p.returncode, out)


def main(names):
    names = names or list(MUTANTS)
    base = os.path.join(ROOT, "build", "mutants")
    os.makedirs(base, exist_ok=True)
    survived = stale = 0
    for name in names:
        path, text, broken, tests = MUTANTS[name]
        tree = os.path.join(base, name)
        shutil.rmtree(tree, ignore_errors=True)
        # The committed tree (HEAD), so that edits in progress never leak into a mutant.
        os.makedirs(tree)
        subprocess.run(f"git -C {ROOT} archive HEAD | tar -x -C {tree}", shell=True, check=True)
        src = os.path.join(tree, path)
        code = open(src).read()
        if code.count(text) != 1:
            print(f"{name:45s} STALE: the text to break is not in {path} once")
            stale += 1
            continue
        open(src, "w").write(code.replace(text, broken))
        t0 = time.time()
        targets = " ".join(f"build/tests/{t.split('@')[0]}" for t in tests)
        b = run(f"make -j2 {targets} build/examples/http_echo build/examples/stream_echo "
                f"build/examples/dgram_echo build/examples/stream_echo_client "
                f"build/examples/dgram_echo_client", tree)
        if b.returncode != 0:
            print(f"{name:45s} killed (does not build)")
            continue
        failed = []
        for t in tests:
            binary, _, backend = t.partition("@")
            env = f"URSOCK_BACKEND={backend} " if backend else ""
            try:
                r = run(f"{env}./build/tests/{binary}", tree, timeout=120)
                if r.returncode != 0:
                    failed.append(t)
            except subprocess.TimeoutExpired:
                failed.append(t + " (hung)")
        if failed:
            print(f"{name:45s} killed by {', '.join(failed)} in {time.time() - t0:.0f} s")
            shutil.rmtree(tree, ignore_errors=True)
        else:
            print(f"{name:45s} SURVIVED: {', '.join(tests)} passed with it")
            survived += 1
    print(f"{len(names)} mutants: {len(names) - survived - stale} killed, {survived} survived, "
          f"{stale} stale")
    return 1 if survived or stale else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
