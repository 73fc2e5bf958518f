#ifndef LSUV_CORE_CLOCK_H
#define LSUV_CORE_CLOCK_H

/* Monotonic wall-clock seconds, for timing beside GPU timestamps. */
double lsuv_wall_seconds(void);

#endif
