import { useEffect, useState } from 'react';
import { useConnectionState } from '../../../lib/socket-context';

/** The live connection's state in words: connected, connecting, reconnecting in N s, offline. */
export function ConnectionStatus() {
  const state = useConnectionState();
  const [now, setNow] = useState(() => Date.now());
  useEffect(() => {
    if (state.kind !== 'reconnecting') return undefined;
    setNow(Date.now());
    const timer = setInterval(() => setNow(Date.now()), 250);
    return () => clearInterval(timer);
  }, [state]);

  let text: string;
  switch (state.kind) {
    case 'connected':
      text = 'Live: connected';
      break;
    case 'connecting':
      text = 'Connecting…';
      break;
    case 'reconnecting':
      text = `Disconnected: reconnecting in ${Math.max(0, Math.ceil((state.retryAt - now) / 1000))} s`;
      break;
    case 'offline':
      text = 'Offline: waiting for the network';
      break;
    case 'closed':
      text = 'Not connected';
      break;
  }
  return (
    <p className={`connection connection-${state.kind}`} role="status" aria-live="polite" data-testid="connection-state">
      <span className="connection-dot" aria-hidden="true" />
      {text}
    </p>
  );
}
