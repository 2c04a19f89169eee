/* task.params.isolation and task.params.limits of a command task: defaults,
 * accepted values, and a message naming the field for each bad one. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "base/err.h"
#include "model/params.h"

static json_t *load(const char *text)
{
    json_error_t je;
    json_t *v = json_loads(text, JSON_DECODE_ANY, &je);
    assert_non_null(v);
    return v;
}

static void expect_error(const char *text, const char *msg)
{
    json_t *v = load(text);
    rk_task_params_t p;
    rk_verr_t e = {{0}};
    assert_int_equal(rk_task_params_decode(v, "task.params", RK_TASK_COMMAND, &p, &e), RK_EINVAL);
    assert_string_equal(e.msg, msg);
    rk_task_params_cleanup(&p);
    json_decref(v);
}

static void test_absent(void **state)
{
    (void)state;
    json_t *v = load("{\"argv\": [\"true\"]}");
    rk_task_params_t p;
    rk_verr_t e = {{0}};
    assert_int_equal(rk_task_params_decode(v, "task.params", RK_TASK_COMMAND, &p, &e), RK_OK);
    assert_false(p.isolation.present);
    assert_false(p.limits.present);
    assert_null(p.isolation.rootfs);
    rk_task_params_cleanup(&p);
    json_decref(v);
}

static void test_full(void **state)
{
    (void)state;
    json_t *v = load("{\"argv\": [\"true\"], \"isolation\": {\"network\": \"host\", \"rootfs\": "
                     "\"bb-1.0\", \"binds\": [{\"source\": \"/srv/a\", \"target\": \"/a\"}, "
                     "{\"source\": \"/srv/b\", \"target\": \"/b\", \"writable\": true}]}, "
                     "\"limits\": {\"memory_mb\": 64, \"pids\": 20, \"cpus\": 0.5, "
                     "\"cpu_weight\": 200}}");
    rk_task_params_t p;
    rk_verr_t e = {{0}};
    assert_int_equal(rk_task_params_decode(v, "task.params", RK_TASK_COMMAND, &p, &e), RK_OK);
    assert_true(p.isolation.present);
    assert_true(p.isolation.network);
    assert_string_equal(p.isolation.rootfs, "bb-1.0");
    assert_int_equal(p.isolation.n_binds, 2);
    assert_string_equal(p.isolation.binds[1].source, "/srv/b");
    assert_string_equal(p.isolation.binds[1].target, "/b");
    assert_false(p.isolation.binds[0].writable);
    assert_true(p.isolation.binds[1].writable);
    assert_true(p.limits.present);
    assert_int_equal(p.limits.memory_mb, 64);
    assert_int_equal(p.limits.pids, 20);
    assert_true(p.limits.cpus == 0.5);
    assert_int_equal(p.limits.cpu_weight, 200);
    rk_task_params_cleanup(&p);
    json_decref(v);

    /* An empty isolation object asks for the sandbox, network none. */
    v = load("{\"argv\": [\"true\"], \"isolation\": {}, \"limits\": {}}");
    assert_int_equal(rk_task_params_decode(v, "task.params", RK_TASK_COMMAND, &p, &e), RK_OK);
    assert_true(p.isolation.present);
    assert_false(p.isolation.network);
    assert_false(p.limits.present);
    rk_task_params_cleanup(&p);
    json_decref(v);
}

static void test_errors(void **state)
{
    (void)state;
    expect_error("{\"argv\": [\"x\"], \"isolation\": 1}",
                 "task.params.isolation: expected an object");
    expect_error("{\"argv\": [\"x\"], \"isolation\": {\"network\": \"lan\"}}",
                 "task.params.isolation.network: expected one of none, host");
    expect_error("{\"argv\": [\"x\"], \"isolation\": {\"rootfs\": \"../etc\"}}",
                 "task.params.isolation.rootfs: expected an image name: 1 to 127 characters "
                 "from [A-Za-z0-9._-], not starting with '.'");
    expect_error("{\"argv\": [\"x\"], \"isolation\": {\"binds\": {}}}",
                 "task.params.isolation.binds: expected an array of {source, target, writable}");
    expect_error("{\"argv\": [\"x\"], \"isolation\": {\"binds\": [{\"target\": \"/a\"}]}}",
                 "task.params.isolation.binds[0].source: field required");
    expect_error("{\"argv\": [\"x\"], \"isolation\": {\"binds\": [{\"source\": \"/a\", "
                 "\"target\": \"\"}]}}",
                 "task.params.isolation.binds[0].target: expected a non-empty path");
    expect_error("{\"argv\": [\"x\"], \"limits\": {\"memory_mb\": 3}}",
                 "task.params.limits.memory_mb: expected an integer from 4 to 1099511627776");
    expect_error("{\"argv\": [\"x\"], \"limits\": {\"pids\": 0}}",
                 "task.params.limits.pids: expected an integer from 1 to 4194304");
    expect_error("{\"argv\": [\"x\"], \"limits\": {\"cpus\": 0}}",
                 "task.params.limits.cpus: expected a number from 0.01 to 4096");
    expect_error("{\"argv\": [\"x\"], \"limits\": {\"cpu_weight\": 10001}}",
                 "task.params.limits.cpu_weight: expected an integer from 1 to 10000");
}

/* Many binds: the cap holds, and a full list decodes. */
static void test_bind_cap(void **state)
{
    (void)state;
    json_t *binds = json_array();
    for (int i = 0; i < 33; i++)
        json_array_append_new(binds, json_pack("{s:s,s:s}", "source", "/s", "target", "/t"));
    json_t *v = json_pack("{s:[s], s:{s:o}}", "argv", "x", "isolation", "binds", binds);
    rk_task_params_t p;
    rk_verr_t e = {{0}};
    assert_int_equal(rk_task_params_decode(v, "task.params", RK_TASK_COMMAND, &p, &e), RK_EINVAL);
    assert_string_equal(e.msg, "task.params.isolation.binds: more than 32 items");
    rk_task_params_cleanup(&p);
    json_array_remove(binds, 0);
    assert_int_equal(rk_task_params_decode(v, "task.params", RK_TASK_COMMAND, &p, &e), RK_OK);
    assert_int_equal(p.isolation.n_binds, 32);
    rk_task_params_cleanup(&p);
    json_decref(v);
}

static void test_container(void **state)
{
    (void)state;
    json_t *v = load("{\"argv\": [\"sh\", \"-c\", \"true\"], \"container\": {\"image\": "
                     "\"localhost/bb:1\"}, \"limits\": {\"memory_mb\": 64}}");
    rk_task_params_t p;
    rk_verr_t e = {{0}};
    assert_int_equal(rk_task_params_decode(v, "task.params", RK_TASK_COMMAND, &p, &e), RK_OK);
    const rk_container_params_t *c = &p.isolation.container;
    assert_true(c->present);
    assert_false(p.isolation.present); /* no bwrap sandbox */
    assert_string_equal(c->image, "localhost/bb:1");
    assert_int_equal(c->pull, RK_PULL_NEVER);
    assert_false(c->network);
    assert_null(c->workdir);
    assert_int_equal(c->n_env, 0);
    assert_true(p.limits.present);
    rk_task_params_cleanup(&p);
    json_decref(v);

    v = load("{\"argv\": [\"x\"], \"container\": {\"image\": \"oci-archive:/srv/bb.tar\", "
             "\"pull\": \"missing\", \"network\": \"host\", \"workdir\": \"/work\", "
             "\"env\": {\"A_1\": \"x y\", \"B\": \"\"}}}");
    assert_int_equal(rk_task_params_decode(v, "task.params", RK_TASK_COMMAND, &p, &e), RK_OK);
    assert_string_equal(c->image, "oci-archive:/srv/bb.tar");
    assert_string_equal(rk_container_pull_name(c->pull), "missing");
    assert_true(c->network);
    assert_string_equal(c->workdir, "/work");
    assert_int_equal(c->n_env, 2);
    assert_string_equal(c->env[0], "A_1=x y");
    assert_string_equal(c->env[1], "B=");
    rk_task_params_cleanup(&p);
    json_decref(v);

    assert_true(rk_container_image_valid("docker.io/library/busybox@sha256:abc"));
    assert_false(rk_container_image_valid("-v/:/host"));    /* an option, never */
    assert_false(rk_container_image_valid("--privileged")); /* an option, never */
    assert_false(rk_container_image_valid("bb 1"));
    assert_false(rk_container_image_valid(""));
    assert_false(rk_container_image_valid("oci-archive:rel.tar"));
    assert_false(rk_container_image_valid("oci-archive:/a/../etc/x"));
    assert_false(rk_container_image_valid("oci-archive:/a\nb"));
}

static void test_container_errors(void **state)
{
    (void)state;
    expect_error("{\"argv\": [\"x\"], \"container\": {}}",
                 "task.params.container.image: field required");
    expect_error("{\"argv\": [\"x\"], \"container\": \"bb\"}",
                 "task.params.container: expected an object");
    expect_error("{\"argv\": [\"x\"], \"container\": {\"image\": \"--privileged\"}}",
                 "task.params.container.image: expected an image name (1 to 255 of "
                 "[A-Za-z0-9._/:@-], starting with a letter or digit) or "
                 "oci-archive:/absolute/path");
    expect_error("{\"argv\": [\"x\"], \"container\": {\"image\": \"bb\", \"pull\": "
                 "\"sometimes\"}}",
                 "task.params.container.pull: expected one of never, missing, always");
    expect_error("{\"argv\": [\"x\"], \"container\": {\"image\": \"bb\", \"network\": "
                 "\"bridge\"}}",
                 "task.params.container.network: expected one of none, host");
    expect_error("{\"argv\": [\"x\"], \"container\": {\"image\": \"bb\", \"workdir\": "
                 "\"rel\"}}",
                 "task.params.container.workdir: expected an absolute path inside the container");
    expect_error("{\"argv\": [\"x\"], \"container\": {\"image\": \"bb\", \"env\": "
                 "{\"A=B\": \"1\"}}}",
                 "task.params.container.env.A=B: expected a variable name of [A-Za-z0-9_], not "
                 "starting with a digit");
    expect_error("{\"argv\": [\"x\"], \"container\": {\"image\": \"bb\", \"env\": "
                 "{\"A\": 1}}}",
                 "task.params.container.env.A: expected a string");
    /* The container is the isolation: a rootfs (or any isolation) with it
     * is refused, naming the field. */
    expect_error("{\"argv\": [\"x\"], \"isolation\": {\"rootfs\": \"bb\"}, \"container\": "
                 "{\"image\": \"bb\"}}",
                 "task.params.isolation.rootfs: cannot be combined with task.params.container "
                 "(the container is the job's isolation)");
    expect_error("{\"argv\": [\"x\"], \"isolation\": {}, \"container\": {\"image\": \"bb\"}}",
                 "task.params.isolation: cannot be combined with task.params.container (the "
                 "container is the job's isolation)");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_absent),    cmocka_unit_test(test_full),
        cmocka_unit_test(test_errors),    cmocka_unit_test(test_bind_cap),
        cmocka_unit_test(test_container), cmocka_unit_test(test_container_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
