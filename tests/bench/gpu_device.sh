#!/usr/bin/env bash
# Real-GPU check and numbers for the README, on a machine with a GPU but no Rust toolchain.
#
#   tests/bench/gpu_device.sh PKG OUT
#
# PKG holds the release builds: quiver, bench-kernels, quiver-engine.wasm,
# quiver-engine-scalar.wasm, and in lib/ the libraries a bare container may lack: the Vulkan
# loader (libvulkan.so.1) and the X11 client libraries NVIDIA's Vulkan driver links to
# (libX11, libXext, libxcb, libXau, libXdmcp, libbsd, libmd) and glvnd (libGLdispatch, libEGL):
# without them it fails to load and wgpu finds no adapter.
# Writes into OUT: env.txt (GPU, driver, Vulkan ICDs), agree.txt (the GPU tier's answers
# compared with SIMD's on the bundled sample), auto.json (what `auto` chose, with its
# calibrated crossover) and bench.md (`bench-kernels` on the real GPU).
set -u
pkg=$1
out=$2
mkdir -p "$out"
export LD_LIBRARY_PATH="$pkg/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"

{
    nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader
    ls /usr/share/vulkan/icd.d /etc/vulkan/icd.d
    ldconfig -p | grep -E "libvulkan|libGLX_nvidia|libEGL_nvidia"
} > "$out/env.txt" 2>&1

# Containers often carry NVIDIA's driver libraries without the Vulkan ICD manifest.
if [ -z "$(ls /usr/share/vulkan/icd.d/nvidia* /etc/vulkan/icd.d/nvidia* 2> /dev/null)" ]; then
    library=$(ldconfig -p | grep -o '/[^ ]*libGLX_nvidia.so.0' | head -1)
    if [ -n "$library" ]; then
        printf '{"file_format_version":"1.0.0","ICD":{"library_path":"%s","api_version":"1.3.0"}}\n' \
            "$library" > "$out/nvidia_icd.json"
        export VK_ICD_FILENAMES="$out/nvidia_icd.json"
        echo "made an ICD manifest for $library" >> "$out/env.txt"
    fi
fi

sample=tests/data/sample.parquet
{
    for where in "trip_distance > 20" "id BETWEEN 1000 AND 150000" \
        "id IN (5, 77, 1999, 150001)" "NOT (tip_amount < 2 OR tip_amount > 30)" \
        "pickup_at >= TIMESTAMP '2024-01-15 23:00:00'"; do
        simd=$("$pkg/quiver" scan "$sample" --where "$where" --format csv --compute simd | sha256sum)
        gpu=$("$pkg/quiver" scan "$sample" --where "$where" --format csv --compute gpu --stats \
            2> "$out/gpu_stats.txt" | sha256sum)
        verdict=$([ "$simd" = "$gpu" ] && echo same || echo DIFFERENT)
        echo "$verdict: $where ($(tail -1 "$out/gpu_stats.txt" | grep -o '"gpu_adapter":"[^"]*"'))"
    done
} > "$out/agree.txt" 2>&1

"$pkg/quiver" scan "$sample" --where "trip_distance > 20" --format csv --stats 2>&1 > /dev/null \
    | tail -1 > "$out/auto.json"

timeout 400 "$pkg/bench-kernels" --rows 8388608 > "$out/bench.md" 2> "$out/bench.err"
