/* Finding which cgroup version and controllers are usable (cgroup.h,
 * rk_cg_probe): the mounts from /proc/self/mountinfo, the agent's own group
 * in each hierarchy from /proc/self/cgroup. */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "base/err.h"
#include "isolate/cgroup.h"
#include "isolate/internal.h"

/* The agent's own group in a hierarchy from /proc/self/cgroup: for v1 the
 * line naming ctrl, for v2 (ctrl NULL) the "0::" line. */
static bool self_path(const char *ctrl, char *out, size_t sz)
{
    FILE *f = fopen("/proc/self/cgroup", "re");
    if (!f)
        return false;
    char line[1024];
    bool found = false;
    while (!found && fgets(line, sizeof line, f)) {
        line[strcspn(line, "\n")] = '\0';
        char *c1 = strchr(line, ':');
        char *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
        if (!c2)
            continue;
        *c1 = '\0';
        *c2 = '\0';
        const char *list = c1 + 1, *path = c2 + 1;
        if (!ctrl) {
            found = strcmp(line, "0") == 0 && *list == '\0';
        } else {
            char copy[256];
            snprintf(copy, sizeof copy, "%s", list);
            for (char *sv, *t = strtok_r(copy, ",", &sv); t; t = strtok_r(NULL, ",", &sv))
                if (strcmp(t, ctrl) == 0)
                    found = true;
        }
        if (found)
            snprintf(out, sz, "%s", strcmp(path, "/") == 0 ? "" : path);
    }
    fclose(f);
    return found;
}

/* Mount point of the v1 hierarchy holding ctrl, or of cgroup2 (ctrl NULL),
 * from /proc/self/mountinfo. */
static bool mount_of(const char *ctrl, char *out, size_t sz)
{
    FILE *f = fopen("/proc/self/mountinfo", "re");
    if (!f)
        return false;
    char line[2048];
    bool found = false;
    while (!found && fgets(line, sizeof line, f)) {
        /* "id parent maj:min root mountpoint opts [optional...] - fstype src superopts" */
        char *dash = strstr(line, " - ");
        if (!dash)
            continue;
        char mnt[1024], fstype[64], src[256], super[1024] = "";
        if (sscanf(line, "%*s %*s %*s %*s %1023s", mnt) != 1 ||
            sscanf(dash + 3, "%63s %255s %1023s", fstype, src, super) < 2)
            continue;
        if (!ctrl) {
            found = strcmp(fstype, "cgroup2") == 0;
        } else if (strcmp(fstype, "cgroup") == 0) {
            for (char *sv, *t = strtok_r(super, ",", &sv); t; t = strtok_r(NULL, ",", &sv))
                if (strcmp(t, ctrl) == 0)
                    found = true;
        }
        if (found)
            snprintf(out, sz, "%.*s", (int)sz - 1, mnt);
    }
    fclose(f);
    return found;
}

int isolate__cg_mounts(char (*mnts)[ISOLATE__CG_MNT_MAX], int cap)
{
    FILE *f = fopen("/proc/self/mountinfo", "re");
    if (!f)
        return 0;
    char line[2048];
    int n = 0;
    while (n < cap && fgets(line, sizeof line, f)) {
        char *dash = strstr(line, " - ");
        char mnt[ISOLATE__CG_MNT_MAX], fstype[64];
        if (dash && sscanf(line, "%*s %*s %*s %*s %255s", mnt) == 1 &&
            sscanf(dash + 3, "%63s", fstype) == 1 &&
            (strcmp(fstype, "cgroup") == 0 || strcmp(fstype, "cgroup2") == 0))
            snprintf(mnts[n++], ISOLATE__CG_MNT_MAX, "%s", mnt);
    }
    fclose(f);
    return n;
}

static int probe_v1(rk_cg_probe_t *out)
{
    memset(out, 0, sizeof *out);
    for (int i = 0; i < RK_CG_NCTRL; i++) {
        char mnt[256], self[256];
        if (!mount_of(isolate__cg_ctrl_names[i], mnt, sizeof mnt) ||
            !self_path(isolate__cg_ctrl_names[i], self, sizeof self))
            continue;
        snprintf(out->base[i], RK_CG_PATH_MAX, "%s%s", mnt, self);
        out->mnt_len[i] = (unsigned short)strlen(mnt);
        if (access(out->base[i], W_OK) == 0)
            out->ctrls |= 1u << i;
        else
            out->base[i][0] = '\0';
    }
    unsigned need = RK_CG_MEMORY | RK_CG_PIDS | RK_CG_CPU | RK_CG_CPUACCT | RK_CG_FREEZER;
    if ((out->ctrls & need) != need) {
        char missing[128] = "";
        for (int i = 0; i < RK_CG_NCTRL; i++)
            if (!(out->ctrls & (1u << i)))
                snprintf(missing + strlen(missing), sizeof missing - strlen(missing), " %s",
                         isolate__cg_ctrl_names[i]);
        snprintf(out->why, sizeof out->why, "cgroup v1: controllers not mounted or not writable:%s",
                 missing);
        out->version = RK_CG_NONE;
        return RK_EUNSUP;
    }
    out->version = RK_CG_V1;
    return 0;
}

/* v2 with whatever controllers the agent's group offers; core_ok accepts
 * none (freeze, kill and cpu.stat only). */
static int probe_v2(rk_cg_probe_t *out, bool core_ok)
{
    memset(out, 0, sizeof *out);
    char mnt[256], self[256], list[512];
    if (!mount_of(NULL, mnt, sizeof mnt) || !self_path(NULL, self, sizeof self)) {
        snprintf(out->why, sizeof out->why, "cgroup v2: not mounted");
        return RK_EUNSUP;
    }
    snprintf(out->base[0], RK_CG_PATH_MAX, "%s%s", mnt, self);
    out->mnt_len[0] = (unsigned short)strlen(mnt);
    if (access(out->base[0], W_OK) != 0 ||
        isolate__cg_read(out->base[0], "cgroup.controllers", list, sizeof list) < 0) {
        snprintf(out->why, sizeof out->why, "cgroup v2: %.200s not writable or too old a kernel",
                 out->base[0]);
        return RK_EUNSUP;
    }
    out->ctrls = RK_CG_CPUACCT | RK_CG_FREEZER;
    for (char *sv, *t = strtok_r(list, " \n", &sv); t; t = strtok_r(NULL, " \n", &sv))
        for (int i = 0; i < 3; i++)
            if (strcmp(t, isolate__cg_ctrl_names[i]) == 0)
                out->ctrls |= 1u << i;
    unsigned need = RK_CG_MEMORY | RK_CG_PIDS | RK_CG_CPU;
    if (!core_ok && (out->ctrls & need) != need) {
        snprintf(out->why, sizeof out->why,
                 "cgroup v2: memory, pids and cpu not all delegated to %.180s", out->base[0]);
        return RK_EUNSUP;
    }
    out->version = RK_CG_V2;
    return 0;
}

int rk_cg_probe(rk_cg_version_t want, rk_cg_probe_t *out)
{
    if (want == RK_CG_V1)
        return probe_v1(out);
    if (want == RK_CG_V2)
        return probe_v2(out, true);
    if (probe_v2(out, false) == 0 || probe_v1(out) == 0)
        return 0;
    char why_v1[256];
    snprintf(why_v1, sizeof why_v1, "%s", out->why);
    if (probe_v2(out, true) == 0)
        return 0;
    snprintf(out->why, sizeof out->why, "%s", why_v1);
    out->version = RK_CG_NONE;
    return RK_EUNSUP;
}
