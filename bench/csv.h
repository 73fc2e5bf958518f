/* CSV text as every file of lsuv-bench writes it. */
#ifndef LSUV_BENCH_CSV_H
#define LSUV_BENCH_CSV_H

#include <stdio.h>

/* A CSV field as RFC 4180 has it: in double quotes, with quotes doubled,
 * when it holds a comma, a quote or a line break (device names hold
 * commas). Every CSV of lsuv-bench writes its text through it. */
void csv_field(FILE *f, const char *s);

#endif
