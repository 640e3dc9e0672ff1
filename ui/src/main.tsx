import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { App } from './app/App';
import { Providers } from './app/Providers';
import { captureTokenFromUrl } from './lib/auth-token';
import './styles.css';

captureTokenFromUrl();
// The page lives at /monitoring; /monitoring/runs/ID is the same page with that run open.
const runPath = /^\/monitoring\/runs\/(\d+)\/?$/.exec(window.location.pathname);
if (runPath) {
  const params = new URLSearchParams(window.location.search);
  params.set('run', runPath[1]!);
  window.history.replaceState(null, '', `/monitoring?${params.toString()}`);
} else if (!window.location.pathname.startsWith('/monitoring')) {
  window.history.replaceState(null, '', `/monitoring${window.location.search}`);
}

const root = document.getElementById('root');
if (root) {
  createRoot(root).render(
    <StrictMode>
      <Providers>
        <App />
      </Providers>
    </StrictMode>,
  );
}
