// The fused end of every convolution kernel: an output stored (or its sum
// kept) and added to the workgroup's statistics, and the workgroup's
// Partial. Included after conv_io.glsl.
// One output, at index `at` of the chunk: the epilogue stored, or with SUMS
// the sum; and its measured value added to the statistics, about origin.
void emit(Scales sc, float shift, float unfold, uint at, float acc, bool stats, float origin, inout Moments m) {
    if (SUMS)
        sums[P.sums_off + at] = acc;
    else
        y[P.out_off + at] = STORED(epilogue_value(sc, acc, shift));
    if (stats) m = moments_add_output(m, epilogue_measured(sc, acc, shift, unfold), origin);
}

// The workgroup's partial statistics, one per workgroup.
void write_partial(bool stats, float origin, Moments m) {
    if (!stats) return;
    m = workgroup_merge(m);
    if (gl_LocalInvocationIndex == 0u)
        partials[P.stats_base + gl_WorkGroupID.y * gl_NumWorkGroups.x + gl_WorkGroupID.x] =
            Partial(origin, m.mean, m.m2, m.n, m.nonfinite, 0u);
}

#ifndef LSUV_KSPLIT
shared float wg_origin;

// The origin of the workgroup's moments: its first measured value (the
// first invocation's first output, always inside the layer). Only that
// invocation has its sum; the others wait for it.
float workgroup_origin(bool stats, Scales sc, float shift, float unfold, float acc) {
    if (!stats) return 0.0;
    if (gl_LocalInvocationIndex == 0u)
        wg_origin = moments_origin(epilogue_measured(sc, acc, shift, unfold));
    barrier();
    return wg_origin;
}
#endif
