/** Why a command stopped early: a signal, or a reader of stdout that went away. */
export type StopReason = 'SIGINT' | 'SIGTERM' | 'EPIPE';

export interface StopSignal {
  signal: AbortSignal;
  /** What stopped it; undefined while nothing did. */
  reason(): StopReason | undefined;
  release(): void;
}

/**
 * An AbortSignal raised by SIGTERM or SIGINT, so that push, pull and run stop
 * after the batches in flight instead of dying mid-batch (a death mid-batch
 * loses nothing either: the batch is sent again next run), and by EPIPE on
 * stdout (`mesh run | head -1`): nobody reads what the command would say.
 * A second SIGINT or SIGTERM kills as usual. `release` removes the handlers.
 */
export function stopOnSignals(): StopSignal {
  const controller = new AbortController();
  let reason: StopReason | undefined;
  const stopBy = (why: StopReason) => () => {
    reason ??= why;
    controller.abort();
  };
  const onTerm = stopBy('SIGTERM');
  const onInt = stopBy('SIGINT');
  const onPipe = stopBy('EPIPE');
  const onError = (error: NodeJS.ErrnoException) => {
    if (error.code === 'EPIPE') onPipe();
  };
  process.once('SIGTERM', onTerm);
  process.once('SIGINT', onInt);
  process.stdout.on('error', onError);
  return {
    signal: controller.signal,
    reason: () => reason,
    release: () => {
      process.off('SIGTERM', onTerm);
      process.off('SIGINT', onInt);
      process.stdout.off('error', onError);
    },
  };
}

/** 130 after SIGINT, 143 after SIGTERM (128 + the signal's number, as shells report it); undefined otherwise. */
export function interruptedStatus(reason: StopReason | undefined): number | undefined {
  return reason === 'SIGINT' ? 130 : reason === 'SIGTERM' ? 143 : undefined;
}
