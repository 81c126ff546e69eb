/*
 * ws_load: a small WebSocket load generator (and a trivial echo server for the
 * ceiling), built at bench time by bench/wsload.py with gcc.
 *
 * Theory of operation. One thread, one epoll set, N client connections. Each
 * connection sends the opening handshake (RFC 6455 4.1; a fixed key), checks for
 * "HTTP/1.1 101", then keeps DEPTH messages in flight: DEPTH masked frames at
 * first, and one more each time a complete echo arrives. An echo counts when its
 * opcode and payload are exactly what was sent. The clock starts once every
 * connection has its 101, so handshakes are not part of the figure, and the run
 * ends after SECONDS. A server Ping is answered with a Pong; a Close, a short or
 * wrong echo, or an error is counted and ends that connection. The result is one
 * line, "BENCH-RESULT {json}", read by bench/wsload.py.
 *
 * Idle mode (--idle): open N connections, handshake each, print
 * "opened OK FAILED REASON", then on "check" from stdin send one message on each and
 * print "checked OK FAILED REASON" once every echo arrived; "quit" ends it. This is
 * the protocol of bench/idle_clients.py, so the memory scenario drives both alike.
 *
 * Serve mode (--serve PORT): the fastest echo we can write, to show how far the
 * generator reaches beyond the servers under test. It answers any request with a
 * 101 carrying the accept value of the generator's fixed key (it is a ceiling for
 * this generator, not a WebSocket server), and echoes each frame back unmasked.
 *
 * Usage: ws_load HOST PORT PATH CONNECTIONS SECONDS SIZE DEPTH text|binary
 *        ws_load --idle HOST PORT PATH CONNECTIONS
 *        ws_load --serve PORT
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define KEY "dGhlIHNhbXBsZSBub25jZQ=="
#define ACCEPT "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=" /* RFC 6455 1.3's example pair */
#define MAX_EVENTS 512

enum { HANDSHAKING, OPEN, DONE };

struct conn {
    int fd;
    int state;
    unsigned char *in; /* received, not yet parsed */
    size_t in_len, in_cap;
    unsigned char *out; /* to send */
    size_t out_len, out_cap;
    int in_flight;
    long echoes;
};

static struct {
    long connect_errors, handshake_errors, read_errors, write_errors, mismatches, closes;
} errors;

static unsigned char *frame_bytes; /* one masked client frame */
static size_t frame_len;
static unsigned char *payload;
static size_t payload_len;
static int opcode;
static int epfd;

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void die(const char *what) {
    perror(what);
    exit(2);
}

static void raise_nofile(void) {
    struct rlimit limit;
    if (getrlimit(RLIMIT_NOFILE, &limit) == 0) {
        limit.rlim_cur = limit.rlim_max;
        setrlimit(RLIMIT_NOFILE, &limit);
    }
}

/* A masked client frame with FIN set (RFC 6455 5.2); the mask is fixed, which the
 * protocol allows (it only has to be unpredictable to defeat proxy-cache poisoning). */
static size_t build_frame(unsigned char *dst, int op, const unsigned char *data, size_t n) {
    static const unsigned char mask[4] = {0x12, 0x34, 0x56, 0x78};
    size_t i = 0;
    dst[i++] = 0x80 | op;
    if (n < 126) {
        dst[i++] = 0x80 | n;
    } else if (n < 65536) {
        dst[i++] = 0x80 | 126;
        dst[i++] = n >> 8;
        dst[i++] = n & 0xff;
    } else {
        dst[i++] = 0x80 | 127;
        for (int shift = 56; shift >= 0; shift -= 8) dst[i++] = (n >> shift) & 0xff;
    }
    memcpy(dst + i, mask, 4);
    i += 4;
    for (size_t j = 0; j < n; j++) dst[i + j] = data[j] ^ mask[j & 3];
    return i + n;
}

static void reserve(unsigned char **buf, size_t *cap, size_t need) {
    if (need <= *cap) return;
    size_t cap2 = *cap ? *cap : 4096;
    while (cap2 < need) cap2 *= 2;
    *buf = realloc(*buf, cap2);
    if (!*buf) die("realloc");
    *cap = cap2;
}

static void watch(struct conn *c, int want_out) {
    struct epoll_event ev = {.events = EPOLLIN | (want_out ? EPOLLOUT : 0), .data.ptr = c};
    epoll_ctl(epfd, EPOLL_CTL_MOD, c->fd, &ev);
}

static void finish(struct conn *c) {
    if (c->state == DONE) return;
    c->state = DONE;
    epoll_ctl(epfd, EPOLL_CTL_DEL, c->fd, NULL);
    close(c->fd);
    free(c->in);
    free(c->out);
    c->in = c->out = NULL;
    c->in_len = c->in_cap = c->out_len = c->out_cap = 0;
}

/* Write what is queued; returns 0 when all of it went. */
static int flush_out(struct conn *c) {
    while (c->out_len) {
        ssize_t n = send(c->fd, c->out, c->out_len, MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EAGAIN) {
                watch(c, 1);
                return 1;
            }
            errors.write_errors++;
            finish(c);
            return -1;
        }
        memmove(c->out, c->out + n, c->out_len - n);
        c->out_len -= n;
    }
    return 0;
}

static void queue_bytes(struct conn *c, const void *data, size_t n) {
    reserve(&c->out, &c->out_cap, c->out_len + n);
    memcpy(c->out + c->out_len, data, n);
    c->out_len += n;
}

static int connect_to(const char *host, int port) {
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    if (fd < 0) return -1;
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons(port)};
    inet_pton(AF_INET, host, &addr.sin_addr);
    if (connect(fd, (struct sockaddr *)&addr, sizeof addr) < 0 && errno != EINPROGRESS) {
        close(fd);
        return -1;
    }
    return fd;
}

static struct conn *open_all(const char *host, int port, const char *path, int count,
                             int *opened) {
    struct conn *conns = calloc(count, sizeof *conns);
    char request[1024];
    int len = snprintf(request, sizeof request,
                       "GET %s HTTP/1.1\r\nHost: %s:%d\r\nUpgrade: websocket\r\n"
                       "Connection: Upgrade\r\nSec-WebSocket-Key: " KEY "\r\n"
                       "Sec-WebSocket-Version: 13\r\n\r\n", path, host, port);
    *opened = 0;
    for (int i = 0; i < count; i++) {
        struct conn *c = &conns[i];
        c->fd = connect_to(host, port);
        if (c->fd < 0) {
            errors.connect_errors++;
            c->state = DONE;
            continue;
        }
        c->state = HANDSHAKING;
        queue_bytes(c, request, len);
        struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT, .data.ptr = c};
        epoll_ctl(epfd, EPOLL_CTL_ADD, c->fd, &ev);
        (*opened)++;
    }
    return conns;
}

/* Read what is there into c->in; returns -1 when the connection ended. */
static int read_in(struct conn *c) {
    for (;;) {
        reserve(&c->in, &c->in_cap, c->in_len + 65536);
        ssize_t n = recv(c->fd, c->in + c->in_len, c->in_cap - c->in_len, 0);
        if (n > 0) {
            c->in_len += n;
            if ((size_t)n < 65536) return 0;
            continue;
        }
        if (n < 0 && errno == EAGAIN) return 0;
        if (n == 0) errors.closes++;
        else errors.read_errors++;
        finish(c);
        return -1;
    }
}

/* The handshake answer: 1 when complete and 101, 0 when incomplete, -1 when refused. */
static int take_handshake(struct conn *c) {
    unsigned char *end = memmem(c->in, c->in_len, "\r\n\r\n", 4);
    if (!end) return 0;
    if (c->in_len < 12 || memcmp(c->in, "HTTP/1.1 101", 12) != 0) {
        errors.handshake_errors++;
        finish(c);
        return -1;
    }
    size_t used = end + 4 - c->in;
    memmove(c->in, c->in + used, c->in_len - used);
    c->in_len -= used;
    c->state = OPEN;
    return 1;
}

/* Parse server frames; each echo sends the next message when `refill`. */
static void take_frames(struct conn *c, int refill, long *counter) {
    size_t pos = 0;
    while (c->state == OPEN && c->in_len - pos >= 2) {
        unsigned char *p = c->in + pos;
        int op = p[0] & 0x0f;
        uint64_t n = p[1] & 0x7f;
        size_t head = 2;
        if (p[1] & 0x80) { /* servers must not mask */
            errors.mismatches++;
            finish(c);
            return;
        }
        if (n == 126) {
            if (c->in_len - pos < 4) break;
            n = (p[2] << 8) | p[3];
            head = 4;
        } else if (n == 127) {
            if (c->in_len - pos < 10) break;
            n = 0;
            for (int i = 0; i < 8; i++) n = (n << 8) | p[2 + i];
            head = 10;
        }
        if (c->in_len - pos < head + n) break;
        unsigned char *data = p + head;
        pos += head + n;
        if (op == 9) { /* ping: answer with a pong carrying the same payload */
            unsigned char pong[256];
            if (n <= 125) queue_bytes(c, pong, build_frame(pong, 10, data, n));
            continue;
        }
        if (op == 10) continue;
        if (op == 8) {
            errors.closes++;
            finish(c);
            return;
        }
        if (op != opcode || n != payload_len || memcmp(data, payload, n) != 0 ||
            !(p[0] & 0x80)) {
            errors.mismatches++;
            finish(c);
            return;
        }
        c->echoes++;
        c->in_flight--;
        if (counter) (*counter)++;
        if (refill) {
            queue_bytes(c, frame_bytes, frame_len);
            c->in_flight++;
        }
    }
    if (c->state == DONE) return;
    memmove(c->in, c->in + pos, c->in_len - pos);
    c->in_len -= pos;
    flush_out(c);
}

static void build_message(size_t size, int binary) {
    payload_len = size;
    payload = malloc(size + 1);
    for (size_t i = 0; i < size; i++) payload[i] = binary ? (unsigned char)(i * 7) : 'a' + i % 26;
    opcode = binary ? 2 : 1;
    frame_bytes = malloc(size + 14);
    frame_len = build_frame(frame_bytes, opcode, payload, size);
}

/* Run the event loop until `deadline` or until `done(count)` says stop. */
static int handshakes_pending(struct conn *conns, int count) {
    int pending = 0;
    for (int i = 0; i < count; i++) pending += conns[i].state == HANDSHAKING;
    return pending;
}

static void poll_once(int timeout_ms, int refill, long *counter) {
    struct epoll_event events[MAX_EVENTS];
    int n = epoll_wait(epfd, events, MAX_EVENTS, timeout_ms);
    for (int i = 0; i < n; i++) {
        struct conn *c = events[i].data.ptr;
        if (c->state == DONE) continue;
        if (events[i].events & EPOLLOUT) {
            if (flush_out(c) == 0) watch(c, 0);
            if (c->state == DONE) continue;
        }
        if (events[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR)) {
            if (read_in(c) < 0) continue;
            if (c->state == HANDSHAKING && take_handshake(c) <= 0) continue;
            take_frames(c, refill, counter);
        }
    }
}

static void handshake_all(struct conn *conns, int count, double limit) {
    double deadline = now() + limit;
    while (handshakes_pending(conns, count) && now() < deadline) poll_once(50, 0, NULL);
    for (int i = 0; i < count; i++) {
        if (conns[i].state == HANDSHAKING) {
            errors.handshake_errors++;
            finish(&conns[i]);
        }
    }
}

static int run_load(int argc, char **argv) {
    if (argc != 9) {
        fprintf(stderr, "usage: ws_load HOST PORT PATH CONNECTIONS SECONDS SIZE DEPTH text|binary\n");
        return 2;
    }
    const char *host = argv[1], *path = argv[3];
    int port = atoi(argv[2]), count = atoi(argv[4]), depth = atoi(argv[7]);
    double seconds = atof(argv[5]);
    build_message((size_t)atol(argv[6]), strcmp(argv[8], "binary") == 0);
    int opened;
    struct conn *conns = open_all(host, port, path, count, &opened);
    handshake_all(conns, count, 30.0);
    for (int i = 0; i < count; i++) {
        struct conn *c = &conns[i];
        if (c->state != OPEN) continue;
        for (int j = 0; j < depth; j++) queue_bytes(c, frame_bytes, frame_len);
        c->in_flight = depth;
        take_frames(c, 1, NULL); /* anything already read, then flush */
    }
    long messages = 0;
    double start = now(), end = start + seconds, t;
    while ((t = now()) < end) poll_once((int)((end - t) * 1000) + 1, 1, &messages);
    double elapsed = now() - start;
    int open_at_end = 0;
    for (int i = 0; i < count; i++) open_at_end += conns[i].state == OPEN;
    printf("BENCH-RESULT {\"messages\":%ld,\"duration_us\":%ld,\"bytes\":%ld,"
           "\"connections\":%d,\"open_at_end\":%d,\"connect\":%ld,\"handshake\":%ld,"
           "\"read\":%ld,\"write\":%ld,\"mismatch\":%ld,\"closed\":%ld}\n",
           messages, (long)(elapsed * 1e6), messages * (long)payload_len, count, open_at_end,
           errors.connect_errors, errors.handshake_errors, errors.read_errors,
           errors.write_errors, errors.mismatches, errors.closes);
    return 0;
}

static long failed_total(void) {
    return errors.connect_errors + errors.handshake_errors + errors.read_errors +
           errors.write_errors + errors.mismatches + errors.closes;
}

static int run_idle(int argc, char **argv) {
    if (argc != 6) {
        fprintf(stderr, "usage: ws_load --idle HOST PORT PATH CONNECTIONS\n");
        return 2;
    }
    const char *host = argv[2], *path = argv[4];
    int port = atoi(argv[3]), count = atoi(argv[5]);
    build_message(32, 0);
    int opened;
    struct conn *conns = open_all(host, port, path, count, &opened);
    handshake_all(conns, count, 120.0);
    int ok = 0;
    for (int i = 0; i < count; i++) ok += conns[i].state == OPEN;
    printf("opened %d %d %s\n", ok, count - ok, failed_total() ? "errors" : "-");
    fflush(stdout);
    char line[64];
    while (fgets(line, sizeof line, stdin)) {
        if (strncmp(line, "check", 5) != 0) break;
        for (int i = 0; i < count; i++) {
            if (conns[i].state != OPEN) continue;
            conns[i].echoes = 0;
            conns[i].in_flight = 1;
            queue_bytes(&conns[i], frame_bytes, frame_len);
            flush_out(&conns[i]);
        }
        double deadline = now() + 120.0;
        long echoed = 0;
        while (echoed < ok && now() < deadline) poll_once(50, 0, &echoed);
        int checked = 0;
        for (int i = 0; i < count; i++) checked += conns[i].state == OPEN && conns[i].echoes == 1;
        printf("checked %d %d %s\n", checked, count - checked, failed_total() ? "errors" : "-");
        fflush(stdout);
    }
    return 0;
}

/* --serve: a minimal epoll echo, the ceiling. */
static int run_serve(int argc, char **argv) {
    if (argc != 3) {
        fprintf(stderr, "usage: ws_load --serve PORT\n");
        return 2;
    }
    int listener = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0), one = 1;
    setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons(atoi(argv[2]))};
    inet_pton(AF_INET, "127.0.0.1", &addr.sin_addr);
    if (bind(listener, (struct sockaddr *)&addr, sizeof addr) < 0) die("bind");
    if (listen(listener, 4096) < 0) die("listen");
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = NULL};
    epoll_ctl(epfd, EPOLL_CTL_ADD, listener, &ev);
    static const char answer[] = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                                 "Connection: Upgrade\r\nSec-WebSocket-Accept: " ACCEPT "\r\n\r\n";
    for (;;) {
        struct epoll_event events[MAX_EVENTS];
        int n = epoll_wait(epfd, events, MAX_EVENTS, -1);
        for (int i = 0; i < n; i++) {
            struct conn *c = events[i].data.ptr;
            if (!c) {
                int fd;
                while ((fd = accept4(listener, NULL, NULL, SOCK_NONBLOCK)) >= 0) {
                    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
                    c = calloc(1, sizeof *c);
                    c->fd = fd;
                    c->state = HANDSHAKING;
                    struct epoll_event cev = {.events = EPOLLIN, .data.ptr = c};
                    epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &cev);
                }
                continue;
            }
            if (events[i].events & EPOLLOUT) {
                if (flush_out(c) == 0) watch(c, 0);
                if (c->state == DONE) continue;
            }
            if (read_in(c) < 0) continue;
            if (c->state == HANDSHAKING) {
                unsigned char *end = memmem(c->in, c->in_len, "\r\n\r\n", 4);
                if (!end) continue;
                size_t used = end + 4 - c->in;
                memmove(c->in, c->in + used, c->in_len - used);
                c->in_len -= used;
                queue_bytes(c, answer, sizeof answer - 1);
                c->state = OPEN;
            }
            size_t pos = 0;
            while (c->in_len - pos >= 6) {
                unsigned char *p = c->in + pos;
                uint64_t len = p[1] & 0x7f;
                size_t head = 2;
                if (len == 126) {
                    if (c->in_len - pos < 8) break;
                    len = (p[2] << 8) | p[3];
                    head = 4;
                } else if (len == 127) {
                    if (c->in_len - pos < 14) break;
                    len = 0;
                    for (int k = 0; k < 8; k++) len = (len << 8) | p[2 + k];
                    head = 10;
                }
                if (c->in_len - pos < head + 4 + len) break;
                unsigned char *mask = p + head, *data = p + head + 4;
                unsigned char out[14];
                size_t h = 0;
                out[h++] = p[0];
                if (len < 126) out[h++] = len;
                else if (len < 65536) { out[h++] = 126; out[h++] = len >> 8; out[h++] = len & 0xff; }
                else { out[h++] = 127; for (int s = 56; s >= 0; s -= 8) out[h++] = (len >> s) & 0xff; }
                for (uint64_t k = 0; k < len; k++) data[k] ^= mask[k & 3];
                queue_bytes(c, out, h);
                queue_bytes(c, data, len);
                pos += head + 4 + len;
            }
            memmove(c->in, c->in + pos, c->in_len - pos);
            c->in_len -= pos;
            flush_out(c);
        }
    }
}

int main(int argc, char **argv) {
    raise_nofile();
    epfd = epoll_create1(0);
    if (epfd < 0) die("epoll_create1");
    if (argc > 1 && strcmp(argv[1], "--serve") == 0) return run_serve(argc, argv);
    if (argc > 1 && strcmp(argv[1], "--idle") == 0) return run_idle(argc, argv);
    return run_load(argc, argv);
}
