/* The agent's AgentInfo (GET /api/v1/info): who it is, its system_info
 * (lib/sysinfo) with what the original ruckus agent also reported
 * (frameworks, metrics, hooks), and its capabilities: slots, task types,
 * and a boolean per task type the server knows (protocol.md,
 * "Compatibility with the original ruckus clients"), and its --label
 * labels (protocol.md, "Queue control").
 */
#include <stdio.h>
#include <string.h>

#include "agent/internal.h"
#include "base/time.h"
#include "model/enums.h"
#include "sysinfo/sysinfo.h"

#ifndef RK_VERSION
#define RK_VERSION "0.0.0"
#endif

/* The task types this agent runs. */
static const rk_task_type_t runs[] = {RK_TASK_COMMAND, RK_TASK_MEMORY_BENCHMARK,
                                      RK_TASK_COMPUTE_BENCHMARK, RK_TASK_LLM_GENERATION};

static bool can_run(rk_task_type_t t)
{
    for (size_t i = 0; i < sizeof runs / sizeof *runs; i++)
        if (runs[i] == t)
            return true;
    return false;
}

/* The summary metrics each task type reports, as the original clients list
 * them ({name, unit, type}); per-size names are in docs/system-info.md. */
static json_t *metrics_list(void)
{
    static const struct {
        const char *name, *unit;
    } m[] = {
        {"wall_time_s", "s"},
        {"user_time_s", "s"},
        {"sys_time_s", "s"},
        {"max_rss_kib", "KiB"},
        {"exit_status", ""},
        {"memory_read_bandwidth_gb_s", "GB/s"},
        {"memory_write_bandwidth_gb_s", "GB/s"},
        {"memory_copy_bandwidth_gb_s", "GB/s"},
        {"compute_fp64_tflops", "TFLOP/s"},
        {"compute_fp32_tflops", "TFLOP/s"},
        {"peak_compute_tflops", "TFLOP/s"},
        {"throughput_tokens_per_sec", "tokens/s"},
        {"inference_time_seconds", "s"},
    };
    json_t *a = json_array();
    for (size_t i = 0; a && i < sizeof m / sizeof *m; i++)
        json_array_append_new(
            a, json_pack("{s:s, s:s, s:s}", "name", m[i].name, "unit", m[i].unit, "type", "gauge"));
    return a;
}

static json_t *frameworks_list(void)
{
    json_t *a = json_array();
    json_array_append_new(a, json_pack("{s:s, s:s}", "name", "command", "version", RK_VERSION));
    /* llm_generation speaks the OpenAI API to a model server. */
    json_array_append_new(a, json_pack("{s:s, s:s}", "name", "openai", "version", RK_VERSION));
    json_t *blas = rk_sysinfo_openblas();
    if (blas) {
        json_object_del(blas, "path");
        json_array_append_new(a, blas);
    }
    return a;
}

json_t *rk_agent_info_json(const rk_agent_t *a)
{
    char ts[RK_TIME_STRLEN];
    rk_time_format(rk_time_now_us(), ts);
    json_t *si = rk_sysinfo_collect(a->s->data_dir, a->s->models_dir);
    if (!si)
        return NULL;
    json_object_set_new(si, "frameworks", frameworks_list());
    json_object_set_new(si, "metrics", metrics_list());
    json_object_set_new(si, "hooks", json_array());
    json_t *types = json_array();
    json_t *caps = json_pack("{s:I, s:o}", "slots", (json_int_t)a->s->slots, "task_types", types);
    for (size_t i = 0; i < sizeof runs / sizeof *runs; i++)
        json_array_append_new(types, json_string(rk_task_type_name(runs[i])));
    for (int t = 0; caps && t < RK_TASK_TYPE_COUNT; t++)
        json_object_set_new(caps, rk_task_type_name((rk_task_type_t)t),
                            json_boolean(can_run((rk_task_type_t)t)));
    if (caps)
        agent__isolation_caps(a, caps);
    json_t *info = json_pack("{s:s, s:s, s:s, s:o, s:o?, s:s}", "agent_id", a->id, "agent_name",
                             a->s->name, "agent_type", "white_box", "system_info", si,
                             "capabilities", caps, "last_updated", ts);
    json_t *labels = a->s->labels.count ? json_object() : NULL;
    /* --label key=value, checked at startup (settings.c). */
    for (size_t i = 0; labels && i < a->s->labels.count; i++) {
        const char *kv = a->s->labels.items[i], *eq = strchr(kv, '=');
        json_object_setn_new(labels, kv, (size_t)(eq - kv), json_string(eq + 1));
    }
    if (info && labels)
        json_object_set_new(info, "labels", labels);
    else
        json_decref(labels);
    return info ? json_pack("{s:o}", "agent_info", info) : NULL;
}
