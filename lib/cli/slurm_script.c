#include "cli/slurm_script.h"

#include <stdio.h>
#include <string.h>

#include "base/err.h"
#include "model/agent.h"

/* Labels the script sets itself. */
static const char *const own_labels[] = {"partition", "node", "slurm_job"};

static bool all_of(const char *s, const char *set)
{
    return s && *s && strspn(s, set) == strlen(s);
}

static bool digits(const char *s, size_t n)
{
    if (n == 0)
        return false;
    for (size_t i = 0; i < n; i++)
        if (s[i] < '0' || s[i] > '9')
            return false;
    return true;
}

bool rk_slurm_time_valid(const char *s)
{
    if (!s || !*s || strlen(s) > 32)
        return false;
    if (strcmp(s, "infinite") == 0 || strcmp(s, "unlimited") == 0)
        return true;
    const char *dash = strchr(s, '-');
    if (dash) {
        if (!digits(s, (size_t)(dash - s)))
            return false;
        s = dash + 1;
    }
    /* One to three groups of digits separated by ':'. */
    int groups = 0;
    for (;;) {
        size_t n = strcspn(s, ":");
        if (!digits(s, n) || ++groups > 3)
            return false;
        if (s[n] == '\0')
            return true;
        s += n + 1;
    }
}

static bool printable(const char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s < 0x20 || *s == 0x7f)
            return false;
    return true;
}

int rk_slurm_opts_check(const rk_slurm_opts_t *o, char *err, size_t errlen)
{
    err[0] = '\0';
    if (!o->partition || !*o->partition) {
        snprintf(err, errlen, "--partition is required");
        return RK_EINVAL;
    }
    if (strlen(o->partition) > 256 ||
        !all_of(o->partition,
                "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-,")) {
        snprintf(err, errlen,
                 "--partition: expected a partition name (letters, digits, _ . -; several "
                 "comma-separated)");
        return RK_EINVAL;
    }
    if (o->time && !rk_slurm_time_valid(o->time)) {
        snprintf(err, errlen,
                 "--time: expected minutes, MM:SS, HH:MM:SS, D-HH, D-HH:MM or D-HH:MM:SS");
        return RK_EINVAL;
    }
    if (o->cpus_per_task < 0 || o->cpus_per_task > 1024) {
        snprintf(err, errlen, "--cpus-per-task: expected a number from 1 to 1024");
        return RK_EINVAL;
    }
    const char *u = o->server_url;
    if (!u || (strncmp(u, "http://", 7) != 0 && strncmp(u, "https://", 8) != 0) ||
        strlen(u) > 2048 || !printable(u) || strpbrk(u, " '\"\\`$")) {
        snprintf(err, errlen, "--server: expected an http:// or https:// URL");
        return RK_EINVAL;
    }
    if (!(o->exit_when_idle > 0) || o->exit_when_idle > 31536000) {
        snprintf(err, errlen, "--exit-when-idle: expected seconds, more than 0");
        return RK_EINVAL;
    }
    if (o->agent_bin &&
        (!*o->agent_bin || strlen(o->agent_bin) > 4096 || !printable(o->agent_bin))) {
        snprintf(err, errlen, "--agent-bin: expected a path or a command name");
        return RK_EINVAL;
    }
    if (o->agent_host &&
        (strlen(o->agent_host) > 255 ||
         !all_of(o->agent_host,
                 "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.:-"))) {
        snprintf(err, errlen, "--agent-host: expected an address or a host name");
        return RK_EINVAL;
    }
    if (o->job_name && (!*o->job_name || strlen(o->job_name) > 200 ||
                        !all_of(o->job_name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                             "0123456789_.-"))) {
        snprintf(err, errlen, "--job-name: expected letters, digits, _ . -");
        return RK_EINVAL;
    }
    if (o->n_labels > RK_SLURM_MAX_LABELS) {
        snprintf(err, errlen, "--label: at most %d", RK_SLURM_MAX_LABELS);
        return RK_EINVAL;
    }
    for (size_t i = 0; i < o->n_labels; i++) {
        const char *l = o->labels[i], *eq = l ? strchr(l, '=') : NULL;
        size_t kn = eq ? (size_t)(eq - l) : 0;
        char key[RK_LABEL_KEY_MAX + 1];
        if (!eq || kn == 0 || kn > RK_LABEL_KEY_MAX) {
            snprintf(err, errlen,
                     "--label \"%.80s\": expected key=value with a key of 1 to 63 characters from "
                     "[A-Za-z0-9_.-/]",
                     l ? l : "");
            return RK_EINVAL;
        }
        memcpy(key, l, kn);
        key[kn] = '\0';
        if (!rk_label_key_valid(key)) {
            snprintf(err, errlen,
                     "--label \"%.80s\": expected key=value with a key of 1 to 63 characters from "
                     "[A-Za-z0-9_.-/]",
                     l);
            return RK_EINVAL;
        }
        if (strlen(eq + 1) > RK_LABEL_VALUE_MAX || !printable(eq + 1)) {
            snprintf(err, errlen, "--label %s: the value is printable text of at most %d bytes",
                     key, RK_LABEL_VALUE_MAX);
            return RK_EINVAL;
        }
        for (size_t k = 0; k < sizeof own_labels / sizeof *own_labels; k++) {
            if (strcmp(key, own_labels[k]) == 0) {
                snprintf(err, errlen,
                         "--label %s: set by the batch script itself (partition, node, "
                         "slurm_job)",
                         key);
                return RK_EINVAL;
            }
        }
        for (size_t k = 0; k < i; k++) {
            if (strncmp(o->labels[k], l, kn + 1) == 0) {
                snprintf(err, errlen, "--label %s: the key is given twice", key);
                return RK_EINVAL;
            }
        }
    }
    return 0;
}

int rk_slurm_shell_quote(const char *s, rk_buf_t *out)
{
    int rc = rk_buf_adds(out, "'");
    for (const char *p = s; !rc && *p; p++)
        rc = *p == '\'' ? rk_buf_adds(out, "'\\''") : rk_buf_add(out, p, 1);
    return rc ? rc : rk_buf_adds(out, "'");
}

int rk_slurm_script(const rk_slurm_opts_t *o, rk_buf_t *out, char *err, size_t errlen)
{
    int rc = rk_slurm_opts_check(o, err, errlen);
    if (rc)
        return rc;
    const char *host = o->agent_host ? o->agent_host : "0.0.0.0";
    rc = rk_buf_printf(
        out,
        "#!/bin/sh\n"
        "# A ruckus pilot agent (written by `ruckus slurm submit`, docs/slurm.md): one\n"
        "# agent per allocation, as many slots as the allocation has CPUs. It registers\n"
        "# with the server, runs the jobs placed on it, and exits (unregistering) after\n"
        "# %g s with nothing to do. Tokens come from the environment sbatch passes on\n"
        "# (RUCKUS_AGENT_TOKEN, RUCKUS_AGENT_SERVER_TOKEN), never from this file.\n"
        "#SBATCH --job-name=%s\n"
        "#SBATCH --partition=%s\n"
        "#SBATCH --nodes=1\n"
        "#SBATCH --ntasks=1\n",
        o->exit_when_idle, o->job_name ? o->job_name : "ruckus-agent", o->partition);
    if (!rc && o->cpus_per_task > 0)
        rc = rk_buf_printf(out, "#SBATCH --cpus-per-task=%ld\n", o->cpus_per_task);
    if (!rc && o->time)
        rc = rk_buf_printf(out, "#SBATCH --time=%s\n", o->time);
    if (!rc)
        rc = rk_buf_adds(
            out, "# The allocation's CPUs on this node are the agent's slots.\n"
                 "SLOTS=\"${SLURM_CPUS_ON_NODE:-${SLURM_CPUS_PER_TASK:-1}}\"\n"
                 "[ \"$SLOTS\" -gt 1024 ] 2>/dev/null && SLOTS=1024\n"
                 "NODE=\"${SLURMD_NODENAME:-$(hostname -s)}\"\n"
                 "# The agent's data (job folders, results until collected) on node-local disk.\n"
                 "DATA=\"${TMPDIR:-/tmp}/ruckus-agent-${SLURM_JOB_ID:-$$}\"\n"
                 "exec ");
    if (!rc)
        rc = rk_slurm_shell_quote(o->agent_bin ? o->agent_bin : "ruckus-agent", out);
    if (!rc)
        rc = rk_buf_adds(out, " \\\n  --host ");
    if (!rc)
        rc = rk_slurm_shell_quote(host, out);
    if (!rc)
        rc = rk_buf_adds(out, " --port 0 \\\n  --register-with ");
    if (!rc)
        rc = rk_slurm_shell_quote(o->server_url, out);
    if (!rc)
        rc = rk_buf_printf(out,
                           " \\\n  --exit-when-idle %g \\\n"
                           "  --slots \"$SLOTS\" \\\n"
                           "  --name \"$NODE-${SLURM_JOB_ID:-$$}\" \\\n"
                           "  --label \"partition=${SLURM_JOB_PARTITION:-}\" \\\n"
                           "  --label \"node=$NODE\" \\\n"
                           "  --label \"slurm_job=${SLURM_JOB_ID:-}\" \\\n",
                           o->exit_when_idle);
    for (size_t i = 0; !rc && i < o->n_labels; i++) {
        rc = rk_buf_adds(out, "  --label ");
        if (!rc)
            rc = rk_slurm_shell_quote(o->labels[i], out);
        if (!rc)
            rc = rk_buf_adds(out, " \\\n");
    }
    if (!rc)
        rc = rk_buf_adds(out, "  --data-dir \"$DATA\"\n");
    if (rc)
        snprintf(err, errlen, "out of memory");
    return rc;
}
