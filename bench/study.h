/* lsuv-bench --study: LSUV over seeds x batch sizes x orderings (or
 * presets) x networks x devices, each case fitted on one batch and
 * evaluated on the next, written as one document that shards, merges and
 * summarizes.
 *
 * The document (study.json) is the contract between running cases
 * (study.c) and reporting them (study_report.c):
 *
 *   "meta":  { "lsuv_vk_version", "git_commit", "date", "command",
 *              "shard": "I/N" or null, "cases_total": all cases before
 *              sharding, "machine": free text }
 *   "cases": [ { "case": index in the unsharded enumeration (0-based),
 *                "net", "device", "order" (an ordering or a preset name),
 *                "seed", "batch", "input", "eval_input" (the input specs
 *                that reproduce it with lsuv-vk), "passes", "converged",
 *                "hazard", "ms" (the LSUV run's wall time),
 *                "training": {"loss_1", "loss_10", "loss_100", "train_acc",
 *                             "test_acc", "seconds", "diverged" (a loss
 *                             was Inf or NaN)} (only with --train-epochs,
 *                             when training ran) } ]
 *   "rows":  [ { "case", "net", "device", "order", "seed", "batch",
 *                "layer" (cfg index), "mean", "std", "eval_mean",
 *                "eval_std", "passes", "within_tol", "ms" } ]
 *                one per case and LSUV layer, in case then layer order
 *   "training": { "epochs": N, "skipped": reason or null, "optimizer": text }
 *                (only with --train-epochs)
 *   "summary": written by study_finish, never read back.
 *
 * study.csv holds the rows with the same names as columns, in that order. */
#ifndef LSUV_BENCH_STUDY_H
#define LSUV_BENCH_STUDY_H

#include <cjson/cJSON.h>

/* Adds "summary" to study (per net, order, batch and layer: median,
 * quartiles, min, max and a 95% bootstrap interval of the median of |mean|,
 * eval |mean| and |std - 1|), then writes study.json, study.csv,
 * summary.csv, study.md and the SVG plots into out_dir, each file whole or
 * not at all. Returns 0 or an exit code after saying why on stderr. */
int study_finish(cJSON *study, const char *out_dir);

/* lsuv-bench --merge A.json B.json ... --out DIR: joins shards of one study
 * (the same meta.cases_total, no case twice, every case present), rows in
 * case order, then study_finish. */
int study_merge(const char *const *paths, int n_paths, const char *out_dir);

#endif
