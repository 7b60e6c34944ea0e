/**
 * @module metrics
 * Prometheus metrics of a node (prom-client, one registry per node): names follow etcd's where the
 * quantity is the same (constants.ts). `MetricsService` serves them on the admin API and, when
 * `metrics.listen` is set, on a scrape-only listener; `TimedStorage` times WAL fsyncs.
 *
 * @example
 * ```ts
 * const metrics = new NodeMetrics()
 * const services = [..., new MetricsService(metrics)]
 * // openStorage: (dir) => new TimedStorage(new FileStorage(dir), (s) => metrics.fsyncDuration.observe(s))
 * ```
 */
export { NodeMetrics } from './registry.js'
export type { StateReading } from './registry.js'
export { MetricsService, METRICS_SOURCE_SERVICES, parseListen } from './metrics-service.js'
export type { MetricsSource } from './metrics-service.js'
export { TimedStorage } from './storage.js'
export { MetricsListenInUseError } from './errors.js'
export * as metricNames from './constants.js'
