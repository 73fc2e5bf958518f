/* A stand-in for bench/study_report.c until it lands: study.json alone,
 * without the summary, the CSVs, study.md or the plots. */
#include "study.h"

#include "app/exit_codes.h"
#include "files.h"

#include <stdio.h>

int study_finish(cJSON *study, const char *out_dir) {
    bench_files files = {0};
    bench_files_add(&files, "study.json", cJSON_Print(study));
    int code = bench_files_write(&files, out_dir);
    bench_files_free(&files);
    return code;
}

int study_merge(const char *const *paths, int n_paths, const char *out_dir) {
    (void)paths;
    (void)n_paths;
    (void)out_dir;
    fprintf(stderr, "lsuv-bench: --merge is not built in yet\n");
    return EXIT_USAGE;
}
