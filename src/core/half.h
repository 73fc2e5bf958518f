/* Internal: IEEE binary16 conversions for fp16 tensors. */
#ifndef LSUV_CORE_HALF_H
#define LSUV_CORE_HALF_H

#include <stddef.h>
#include <stdint.h>

/* Round to nearest even; overflow gives infinity, NaN stays NaN. */
uint16_t lsuv_half_from_float(float f);
float lsuv_half_to_float(uint16_t h);
void lsuv_half_from_floats(uint16_t *dst, const float *src, size_t n);
void lsuv_half_to_floats(float *dst, const uint16_t *src, size_t n);

#endif
