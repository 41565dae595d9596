import { TickBatcher } from '../batch/tick-batcher.js';
import type { Dispatch, DispatchItem, DispatchResult } from '../dispatcher/dispatch.js';

/**
 * Business's side of the business → dispatcher hop when the dispatcher runs in the same process (the
 * all-in-one): the calls of one tick reach the dispatch service as one call, as DispatchClient's one HTTP
 * request per tick does, so the registry is still looked up once per tick; nothing is serialised.
 */
export class InProcessDispatch implements Dispatch {
  private readonly batcher = new TickBatcher<DispatchItem, DispatchResult>((items) =>
    this.target.dispatch(items),
  );

  constructor(private readonly target: Dispatch) {}

  dispatch(items: DispatchItem[]): Promise<DispatchResult[]> {
    return Promise.all(items.map((item) => this.batcher.add(item)));
  }
}
