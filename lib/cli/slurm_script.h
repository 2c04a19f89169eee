/* The batch script of a Slurm pilot agent (`ruckus slurm submit`,
 * docs/slurm.md): one ruckus-agent per allocation, its slots the
 * allocation's CPUs, labelled with the partition, the node and the Slurm
 * job, registering with the server and leaving when idle.
 *
 * Every value taken from the command line is checked here (so that the
 * script cannot be broken by it) and shell-quoted where it lands in a
 * command. No token is ever written into the script: the agent reads
 * RUCKUS_AGENT_TOKEN and RUCKUS_AGENT_SERVER_TOKEN from the environment
 * sbatch hands on to the job.
 */
#ifndef RK_CLI_SLURM_SCRIPT_H
#define RK_CLI_SLURM_SCRIPT_H

#include <stdbool.h>
#include <stddef.h>

#include "base/buf.h"

#define RK_SLURM_MAX_LABELS 32

typedef struct rk_slurm_opts {
    const char *partition;                   /* required */
    const char *time;                        /* --time; NULL: the partition's default */
    long cpus_per_task;                      /* 0: not asked (the partition's default) */
    const char *server_url;                  /* --register-with, required */
    double exit_when_idle;                   /* seconds, > 0 */
    const char *labels[RK_SLURM_MAX_LABELS]; /* extra key=value labels */
    size_t n_labels;
    const char *agent_bin;  /* NULL: "ruckus-agent" (found on the node's PATH) */
    const char *agent_host; /* NULL: "0.0.0.0" */
    const char *job_name;   /* NULL: "ruckus-agent" */
} rk_slurm_opts_t;

/* Checks o; 0, or RK_EINVAL with a message naming the flag in err
 * ("--time: expected minutes, MM:SS, HH:MM:SS, D-HH, D-HH:MM or D-HH:MM:SS"). */
int rk_slurm_opts_check(const rk_slurm_opts_t *o, char *err, size_t errlen);

/* Appends the batch script for o (checked first, as rk_slurm_opts_check)
 * to out. RK_EINVAL with err set, RK_ENOMEM. */
int rk_slurm_script(const rk_slurm_opts_t *o, rk_buf_t *out, char *err, size_t errlen);

/* Appends s as one shell word in single quotes ('it'\''s'). */
int rk_slurm_shell_quote(const char *s, rk_buf_t *out);

/* Whether s is a Slurm time limit sbatch takes: minutes, MM:SS, HH:MM:SS,
 * D-HH, D-HH:MM, D-HH:MM:SS, or "infinite"/"unlimited". */
bool rk_slurm_time_valid(const char *s);

#endif
