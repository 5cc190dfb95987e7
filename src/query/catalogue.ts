/**
 * What the metrics mean: the DCGM exporter's fields with their units, and the
 * catalogue of metric names the store holds now. Main thread (the catalogue
 * reads chunk counts through the Registry; no lock, a count may be one append
 * behind).
 *
 * The fields are the ten of the real export (`../shared/data`), dcgm-exporter's
 * default counter set (`etc/default-counters.csv`, with the fields it lists
 * commented out), and the DCP profiling fields (`DCGM_FI_PROF_*`). Units are
 * as the exporter reports the value: the profiling "active" and occupancy
 * fields are ratios from 0 to 1, not percentages.
 */
import type { Registry } from '../storage/registry.js';

export interface DcgmField {
  /** As in the value: '%', 'W', 'MiB', 'MHz', 'C', ...; '' for a plain count or a state. */
  unit: string;
  /** One line on what the value means. */
  description: string;
}

const f = (unit: string, description: string): DcgmField => Object.freeze({ unit, description });

export const DCGM_FIELDS: Readonly<Record<string, DcgmField>> = Object.freeze({
  // Utilization (the sample period varies by product)
  DCGM_FI_DEV_GPU_UTIL: f('%', 'GPU utilization: share of the sample period in which a kernel was running'),
  DCGM_FI_DEV_MEM_COPY_UTIL: f('%', 'memory utilization: share of the sample period in which device memory was read or written'),
  DCGM_FI_DEV_ENC_UTIL: f('%', 'video encoder (NVENC) utilization'),
  DCGM_FI_DEV_DEC_UTIL: f('%', 'video decoder (NVDEC) utilization'),
  // Clocks
  DCGM_FI_DEV_SM_CLOCK: f('MHz', 'streaming multiprocessor (SM) clock frequency'),
  DCGM_FI_DEV_MEM_CLOCK: f('MHz', 'memory clock frequency'),
  // Temperature
  DCGM_FI_DEV_GPU_TEMP: f('C', 'GPU temperature, degrees Celsius'),
  DCGM_FI_DEV_MEMORY_TEMP: f('C', 'memory (HBM) temperature, degrees Celsius'),
  // Power
  DCGM_FI_DEV_POWER_USAGE: f('W', 'power draw'),
  DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION: f('mJ', 'total energy consumed since the driver was last loaded (counter)'),
  DCGM_FI_DEV_POWER_MGMT_LIMIT: f('W', 'power management limit: the most the board may draw'),
  // Framebuffer memory
  DCGM_FI_DEV_FB_FREE: f('MiB', 'framebuffer (device) memory free'),
  DCGM_FI_DEV_FB_USED: f('MiB', 'framebuffer (device) memory used'),
  DCGM_FI_DEV_FB_TOTAL: f('MiB', 'framebuffer (device) memory in total'),
  DCGM_FI_DEV_FB_RESERVED: f('MiB', 'framebuffer (device) memory reserved by the driver'),
  // PCIe
  DCGM_FI_DEV_PCIE_TX_THROUGHPUT: f('KB', 'bytes transmitted over PCIe, from NVML (counter)'),
  DCGM_FI_DEV_PCIE_RX_THROUGHPUT: f('KB', 'bytes received over PCIe, from NVML (counter)'),
  DCGM_FI_DEV_PCIE_REPLAY_COUNTER: f('', 'PCIe retries: packets sent again after a link error (counter)'),
  // Errors and throttling
  DCGM_FI_DEV_XID_ERRORS: f('', 'number of the last XID error the driver reported'),
  DCGM_FI_DEV_CLOCK_THROTTLE_REASONS: f('', 'bit mask of the reasons the clocks are being held down'),
  DCGM_FI_DEV_POWER_VIOLATION: f('us', 'time throttled by the power limit (counter)'),
  DCGM_FI_DEV_THERMAL_VIOLATION: f('us', 'time throttled by the thermal limit (counter)'),
  DCGM_FI_DEV_SYNC_BOOST_VIOLATION: f('us', 'time throttled by sync boost (counter)'),
  DCGM_FI_DEV_BOARD_LIMIT_VIOLATION: f('us', 'time throttled by the board limit (counter)'),
  DCGM_FI_DEV_LOW_UTIL_VIOLATION: f('us', 'time throttled for low utilization (counter)'),
  DCGM_FI_DEV_RELIABILITY_VIOLATION: f('us', 'time throttled by board reliability limits (counter)'),
  // ECC
  DCGM_FI_DEV_ECC_SBE_VOL_TOTAL: f('', 'single-bit ECC errors since the driver was loaded (counter)'),
  DCGM_FI_DEV_ECC_DBE_VOL_TOTAL: f('', 'double-bit ECC errors since the driver was loaded (counter)'),
  DCGM_FI_DEV_ECC_SBE_AGG_TOTAL: f('', 'single-bit ECC errors over the GPU lifetime (counter)'),
  DCGM_FI_DEV_ECC_DBE_AGG_TOTAL: f('', 'double-bit ECC errors over the GPU lifetime (counter)'),
  // Retired pages and remapped rows
  DCGM_FI_DEV_RETIRED_SBE: f('', 'memory pages retired after single-bit errors (counter)'),
  DCGM_FI_DEV_RETIRED_DBE: f('', 'memory pages retired after double-bit errors (counter)'),
  DCGM_FI_DEV_RETIRED_PENDING: f('', 'memory pages waiting to be retired (counter)'),
  DCGM_FI_DEV_UNCORRECTABLE_REMAPPED_ROWS: f('', 'memory rows remapped after uncorrectable errors (counter)'),
  DCGM_FI_DEV_CORRECTABLE_REMAPPED_ROWS: f('', 'memory rows remapped after correctable errors (counter)'),
  DCGM_FI_DEV_ROW_REMAP_FAILURE: f('', '1 if remapping a memory row has failed, else 0'),
  // NVLink
  DCGM_FI_DEV_NVLINK_CRC_FLIT_ERROR_COUNT_TOTAL: f('', 'NVLink flow-control CRC errors, all links (counter)'),
  DCGM_FI_DEV_NVLINK_CRC_DATA_ERROR_COUNT_TOTAL: f('', 'NVLink data CRC errors, all links (counter)'),
  DCGM_FI_DEV_NVLINK_REPLAY_ERROR_COUNT_TOTAL: f('', 'NVLink retries, all links (counter)'),
  DCGM_FI_DEV_NVLINK_RECOVERY_ERROR_COUNT_TOTAL: f('', 'NVLink recovery errors, all links (counter)'),
  DCGM_FI_DEV_NVLINK_BANDWIDTH_TOTAL: f('', 'NVLink bandwidth counters summed over all lanes (counter)'),
  // Virtualization and static state
  DCGM_FI_DEV_VGPU_LICENSE_STATUS: f('', 'vGPU license status'),
  DCGM_FI_DEV_COUNT: f('', 'number of GPUs on the node'),
  DCGM_FI_DEV_PSTATE: f('', 'performance state, P0 (fastest) to P15'),
  // Profiling (DCP): ratios of the sample period or of cycles, 0 to 1
  DCGM_FI_PROF_GR_ENGINE_ACTIVE: f('ratio', 'share of time the graphics or compute engine was active'),
  DCGM_FI_PROF_SM_ACTIVE: f('ratio', 'share of cycles an SM had at least one warp assigned, averaged over SMs'),
  DCGM_FI_PROF_SM_OCCUPANCY: f('ratio', 'warps resident on an SM relative to the most it can hold, averaged over SMs'),
  DCGM_FI_PROF_PIPE_TENSOR_ACTIVE: f('ratio', 'share of cycles the tensor (HMMA) pipes were active'),
  DCGM_FI_PROF_PIPE_FP64_ACTIVE: f('ratio', 'share of cycles the FP64 pipes were active'),
  DCGM_FI_PROF_PIPE_FP32_ACTIVE: f('ratio', 'share of cycles the FP32 pipes were active'),
  DCGM_FI_PROF_PIPE_FP16_ACTIVE: f('ratio', 'share of cycles the FP16 pipes were active'),
  DCGM_FI_PROF_DRAM_ACTIVE: f('ratio', 'share of cycles the device memory interface was sending or receiving data'),
  DCGM_FI_PROF_PCIE_TX_BYTES: f('B/s', 'PCIe bytes transmitted per second, headers and payload'),
  DCGM_FI_PROF_PCIE_RX_BYTES: f('B/s', 'PCIe bytes received per second, headers and payload'),
  DCGM_FI_PROF_NVLINK_TX_BYTES: f('B/s', 'NVLink bytes transmitted per second, headers and payload'),
  DCGM_FI_PROF_NVLINK_RX_BYTES: f('B/s', 'NVLink bytes received per second, headers and payload'),
});

export interface CatalogueEntry {
  name: string;
  unit: string;
  description: string;
  /** GPUs holding samples of this metric now. */
  gpus: number;
}

/** Every metric name with samples held, by name, with its unit and meaning where it is a known DCGM field. */
export function metricCatalogue(registry: Registry): CatalogueEntry[] {
  const gpusOf = new Map<string, number>();
  for (const gpu of registry.gpus.values()) {
    for (const [metric, views] of gpu.series) {
      if (views.some((v) => v.count > 0)) gpusOf.set(metric, (gpusOf.get(metric) ?? 0) + 1);
    }
  }
  const out: CatalogueEntry[] = [];
  for (const [name, gpus] of gpusOf) {
    const field = Object.hasOwn(DCGM_FIELDS, name) ? DCGM_FIELDS[name]! : undefined;
    out.push({ name, unit: field?.unit ?? '', description: field?.description ?? 'not a known DCGM field', gpus });
  }
  return out.sort((a, b) => (a.name < b.name ? -1 : 1)); // names are distinct
}
