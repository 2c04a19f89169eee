/* Warnings about an experiment spec that decodes fine but holds fields
 * nobody reads: a typo'd key (`timeout_secs`) is kept (unknown fields
 * survive a round trip) and silently ignored, so a user never learns that
 * the timeout they set is not the one that applies.
 *
 * Only objects whose keys ruckus defines are checked: the top level, task,
 * framework, metrics, task.params of command / memory / compute tasks
 * (with rlimits) and capability_requirements with its sub-objects.
 * framework.params, metrics.metrics and the params of task types ruckus
 * does not run itself are free-form and never warned about.
 */
#ifndef RK_MODEL_LINT_H
#define RK_MODEL_LINT_H

#include <jansson.h>

/* A new array of strings, one per unknown field: "<path>: unknown field,
 * ignored" plus ", did you mean <key>?" when a known key of that object is
 * close (or names where it belongs). path_prefix ("experiment_spec" or "")
 * starts each path. Empty when there is nothing to say; NULL on ENOMEM. */
json_t *rk_experiment_lint(const json_t *spec, const char *path_prefix);

#endif
