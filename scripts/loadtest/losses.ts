// The exact loss check of `push`: every message the server accepted must have reached every device of its
// receiver. Devices that never connected are left out (reported by the connect step); devices the server
// dropped mid-run are counted separately, because a real client would reconnect and sync what it missed.
import type { PushFinal } from './ipc.js';

export interface LossCheck {
  accepted: number;
  expectedDeliveries: number; // accepted × devices that were connected
  lost: number; // accepted, not received by a device that stayed connected
  missedByDropped: number;
  notConnected: number; // deliveries owed to devices that never connected
  unexpected: number; // received keys that were never reported accepted (e.g. the HTTP answer timed out)
  sample: number[]; // up to 10 lost keys, for debugging
}

export function checkLosses(finals: PushFinal[], devicesPerReceiver: number): LossCheck {
  const devices = new Map<number, PushFinal['devices'][number] & { set: Set<number> }>();
  for (const f of finals) for (const d of f.devices) devices.set(d.conn, { ...d, set: new Set(d.keys) });
  const acceptedKeys = new Set<number>();
  const out: LossCheck = {
    accepted: 0,
    expectedDeliveries: 0,
    lost: 0,
    missedByDropped: 0,
    notConnected: 0,
    unexpected: 0,
    sample: [],
  };
  for (const f of finals) {
    for (let i = 0; i < f.acceptedKeys.length; i++) {
      const key = f.acceptedKeys[i] as number;
      const r = f.acceptedTo[i] as number;
      acceptedKeys.add(key);
      out.accepted++;
      for (let d = 0; d < devicesPerReceiver; d++) {
        const dev = devices.get(r * devicesPerReceiver + d);
        if (!dev?.opened) {
          out.notConnected++;
          continue;
        }
        out.expectedDeliveries++;
        if (dev.set.has(key)) continue;
        if (dev.dropped) out.missedByDropped++;
        else {
          out.lost++;
          if (out.sample.length < 10) out.sample.push(key);
        }
      }
    }
  }
  for (const dev of devices.values())
    for (const key of dev.keys) if (!acceptedKeys.has(key)) out.unexpected++;
  return out;
}
