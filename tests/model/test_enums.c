/* Protocol enums: every wire name, both directions, and the rejects. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "base/err.h"
#include "model/enums.h"

static void test_job_state(void **state)
{
    (void)state;
    const char *want[] = {"queued", "assigned",  "running", "completed",
                          "failed", "cancelled", "timeout", "paused"};
    assert_int_equal(RK_JOB_STATE_COUNT, 8);
    for (int i = 0; i < RK_JOB_STATE_COUNT; i++) {
        rk_job_state_t v = RK_JOB_STATE_COUNT;
        assert_string_equal(rk_job_state_name((rk_job_state_t)i), want[i]);
        assert_string_equal(rk_job_state_names[i], want[i]);
        assert_int_equal(rk_job_state_parse(want[i], &v), RK_OK);
        assert_int_equal(v, i);
    }
    assert_int_equal(RK_JOB_RUNNING, 2); /* stored by name, but the order is fixed too */
    assert_string_equal(rk_job_state_name(RK_JOB_STATE_COUNT), "unknown");
    assert_string_equal(rk_job_state_name((rk_job_state_t)-1), "unknown");
    rk_job_state_t v = RK_JOB_QUEUED;
    assert_int_equal(rk_job_state_parse("Running", &v), RK_EINVAL);
    assert_int_equal(rk_job_state_parse("", &v), RK_EINVAL);
    assert_int_equal(rk_job_state_parse("running ", &v), RK_EINVAL);
    assert_int_equal(rk_job_state_parse(NULL, &v), RK_EINVAL);
    assert_int_equal(v, RK_JOB_QUEUED); /* untouched on failure */
}

static void test_job_priority(void **state)
{
    (void)state;
    const char *want[] = {"low", "medium", "high", "critical"};
    assert_int_equal(RK_PRIORITY_COUNT, 4);
    for (int i = 0; i < RK_PRIORITY_COUNT; i++) {
        rk_job_priority_t v = RK_PRIORITY_COUNT;
        assert_string_equal(rk_job_priority_name((rk_job_priority_t)i), want[i]);
        assert_int_equal(rk_job_priority_parse(want[i], &v), RK_OK);
        assert_int_equal(v, i);
    }
    /* Higher levels compare greater: queues order by the number. */
    assert_true(RK_PRIO_CRITICAL > RK_PRIO_HIGH && RK_PRIO_HIGH > RK_PRIO_MEDIUM &&
                RK_PRIO_MEDIUM > RK_PRIO_LOW);
    rk_job_priority_t v = RK_PRIO_MEDIUM;
    assert_int_equal(rk_job_priority_parse("urgent", &v), RK_EINVAL);
    assert_int_equal(rk_job_priority_parse("HIGH", &v), RK_EINVAL);
    assert_int_equal(v, RK_PRIO_MEDIUM);
}

static void test_terminal(void **state)
{
    (void)state;
    assert_false(rk_job_state_terminal(RK_JOB_QUEUED));
    assert_false(rk_job_state_terminal(RK_JOB_ASSIGNED));
    assert_false(rk_job_state_terminal(RK_JOB_RUNNING));
    assert_true(rk_job_state_terminal(RK_JOB_COMPLETED));
    assert_true(rk_job_state_terminal(RK_JOB_FAILED));
    assert_true(rk_job_state_terminal(RK_JOB_CANCELLED));
    assert_true(rk_job_state_terminal(RK_JOB_TIMEOUT));
    assert_false(rk_job_state_terminal(RK_JOB_PAUSED));
}

static void test_agent_state(void **state)
{
    (void)state;
    const char *want[] = {"active", "idle", "error", "unavailable"};
    assert_int_equal(RK_AGENT_STATE_COUNT, 4);
    for (int i = 0; i < RK_AGENT_STATE_COUNT; i++) {
        rk_agent_state_t v = RK_AGENT_STATE_COUNT;
        assert_string_equal(rk_agent_state_name((rk_agent_state_t)i), want[i]);
        assert_int_equal(rk_agent_state_parse(want[i], &v), RK_OK);
        assert_int_equal(v, i);
    }
    rk_agent_state_t v;
    assert_int_equal(rk_agent_state_parse("busy", &v), RK_EINVAL);
    assert_string_equal(rk_agent_state_name(RK_AGENT_STATE_COUNT), "unknown");
}

static void test_agent_type(void **state)
{
    (void)state;
    const char *want[] = {"white_box", "gray_box", "black_box"};
    assert_int_equal(RK_AGENT_TYPE_COUNT, 3);
    for (int i = 0; i < RK_AGENT_TYPE_COUNT; i++) {
        rk_agent_type_t v = RK_AGENT_TYPE_COUNT;
        assert_string_equal(rk_agent_type_name((rk_agent_type_t)i), want[i]);
        assert_int_equal(rk_agent_type_parse(want[i], &v), RK_OK);
        assert_int_equal(v, i);
    }
    rk_agent_type_t v;
    assert_int_equal(rk_agent_type_parse("grey_box", &v), RK_EINVAL);
    assert_string_equal(rk_agent_type_name(RK_AGENT_TYPE_COUNT), "unknown");
}

static void test_task_type(void **state)
{
    (void)state;
    const char *want[] = {"llm_generation", "gpu_benchmark", "memory_benchmark",
                          "compute_benchmark", "command"};
    assert_int_equal(RK_TASK_TYPE_COUNT, 5);
    for (int i = 0; i < RK_TASK_TYPE_COUNT; i++) {
        rk_task_type_t v = RK_TASK_TYPE_COUNT;
        assert_string_equal(rk_task_type_name((rk_task_type_t)i), want[i]);
        assert_int_equal(rk_task_type_parse(want[i], &v), RK_OK);
        assert_int_equal(v, i);
    }
    rk_task_type_t v;
    assert_int_equal(rk_task_type_parse("shell", &v), RK_EINVAL);
    assert_string_equal(rk_task_type_name(RK_TASK_TYPE_COUNT), "unknown");
}

static void test_precision(void **state)
{
    (void)state;
    const char *want[] = {"fp64", "fp32", "tf32", "fp16", "bf16", "int8", "fp8"};
    assert_int_equal(RK_PRECISION_COUNT, 7);
    for (int i = 0; i < RK_PRECISION_COUNT; i++) {
        rk_precision_t v = RK_PRECISION_COUNT;
        assert_string_equal(rk_precision_name((rk_precision_t)i), want[i]);
        assert_int_equal(rk_precision_parse(want[i], &v), RK_OK);
        assert_int_equal(v, i);
    }
    rk_precision_t v;
    assert_int_equal(rk_precision_parse("FP32", &v), RK_EINVAL);
    assert_int_equal(rk_precision_parse("int4", &v), RK_EINVAL);
    assert_string_equal(rk_precision_name(RK_PRECISION_COUNT), "unknown");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_job_state),  cmocka_unit_test(test_job_priority),
        cmocka_unit_test(test_terminal),   cmocka_unit_test(test_agent_state),
        cmocka_unit_test(test_agent_type), cmocka_unit_test(test_task_type),
        cmocka_unit_test(test_precision),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
