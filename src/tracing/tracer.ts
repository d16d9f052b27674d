/**
 * The tracer taskmill's spans come from, and whether there is one at all. With no OpenTelemetry
 * SDK registered, {@link activeTracer} returns undefined without allocating anything, and the
 * callers then neither create spans nor touch headers: tracing costs one check per enqueue and per
 * attempt (measured in docs/observability.md).
 */
import { ProxyTracerProvider, type Tracer, trace } from '@opentelemetry/api';

/** The instrumentation scope name of taskmill's spans. */
export const TRACER_NAME = 'taskmill';

/**
 * The registered SDK's tracer, or undefined when none is registered. The API's global provider
 * is a proxy whose tracers are no-ops until an SDK sets its delegate; asking the proxy for the
 * delegate's tracer tells the two apart without creating a no-op span to find out.
 */
export function activeTracer(): Tracer | undefined {
  const provider = trace.getTracerProvider();
  if (provider instanceof ProxyTracerProvider) return provider.getDelegateTracer(TRACER_NAME);
  // Some other global provider (an SDK registered without the proxy): always use it.
  return provider.getTracer(TRACER_NAME);
}
