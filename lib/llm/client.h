/* The load generator's engine: many streaming completion requests at once
 * on one thread, each on a connection of its own.
 *
 * Why epoll and plain sockets rather than libcurl's multi interface: the
 * timestamps are the product, and here each one is taken right after the
 * read() that brought the bytes, with nothing between the socket and the
 * clock; the whole client is a few hundred lines we can bound and fuzz;
 * and the agent never maps libcurl and its TLS stack (it only dlopens it
 * in short-lived children). The price: plain http:// only (params refuse
 * https; put a TLS-terminating proxy in front of a remote endpoint), and a
 * new connection per request ("Connection: close"), as a client without a
 * pool would do.
 *
 * Single-threaded: a client and everything it hands out belong to the
 * thread that calls it.
 */
#ifndef RK_LLM_CLIENT_H
#define RK_LLM_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "llm/sample.h"
#include "model/params_llm.h"

/* Error text and answer bodies of failed requests, at most. */
#define RK_LLM_ERROR_BODY_CAP 2048
/* Generated text kept per request (for references), at most. */
#define RK_LLM_TEXT_CAP (1u << 20)

typedef struct rk_llm_client rk_llm_client_t;

/* Called once per request, when it ended; the sample is the caller's. */
typedef void (*rk_llm_done_cb)(rk_llm_sample_t *s, void *ud);

/* The monotonic clock in nanoseconds, the one every sample uses. */
int64_t rk_llm_now(void);
/* The monotonic time of the bytes a recvmsg got: the kernel's receive
 * timestamp (an SCM_TIMESTAMPNS control message, CLOCK_REALTIME) moved to
 * the monotonic clock by its age now; `now` (the read's time) when msg has
 * none or its age is negative or over 10 s (a clock step). */
int64_t rk_llm_rx_time(const struct msghdr *msg, int64_t now);

/* Makes a client that talks to addr with the given API (which decides how
 * chunks are read). Raises the open-file limit to its hard maximum, since
 * each stream is one descriptor. *out is freed with rk_llm_client_free. */
int rk_llm_client_new(const struct sockaddr *addr, socklen_t addrlen, rk_llm_api_t api,
                      rk_llm_client_t **out);
/* Closes every connection and frees c. Requests still open are dropped
 * without a done call; their samples stay the caller's. NULL is a no-op. */
void rk_llm_client_free(rk_llm_client_t *c);

/* Starts one request: req (the whole HTTP request, borrowed until s's done
 * call) is sent on a new connection; s (zeroed by the caller, its
 * prompt_index set; borrowed until done) is filled as the answer streams,
 * and handed to done when it ends, from a later rk_llm_client_poll; a
 * request that cannot connect ends so too. keep_text: gather the generated
 * text into s->text. RK_ENOMEM: not started, no done call. */
int rk_llm_client_start(rk_llm_client_t *c, const char *req, size_t len, rk_llm_sample_t *s,
                        bool keep_text);
/* Runs the loop until at least one request has ended or the monotonic
 * clock reaches until_ns (0: no limit, -1: don't wait), and calls done
 * for each request that ended. Returns how many ended, or RK_EIO. */
int rk_llm_client_poll(rk_llm_client_t *c, int64_t until_ns, rk_llm_done_cb done, void *ud);
/* Requests started and not yet handed to done. */
size_t rk_llm_client_open(const rk_llm_client_t *c);

#endif
