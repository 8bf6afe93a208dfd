/**
 * An AbortSignal raised by SIGTERM or SIGINT, so that push, pull and run stop
 * after the batches in flight instead of dying mid-batch (a death mid-batch
 * loses nothing either: the batch is sent again next run). `release`
 * removes the handlers.
 */
export function stopOnSignals(): { signal: AbortSignal; release(): void } {
  const controller = new AbortController();
  const stop = () => controller.abort();
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
  return {
    signal: controller.signal,
    release: () => {
      process.off('SIGTERM', stop);
      process.off('SIGINT', stop);
    },
  };
}
