import { ChartsPanel } from '../features/charts/components/ChartsPanel';
import { HealthCards } from '../features/health/components/HealthCards';
import { HistoryPanel } from '../features/history/components/HistoryPanel';
import { useLiveSync } from '../features/live-feed/api/use-live-sync';
import { LiveFeed } from '../features/live-feed/components/LiveFeed';
import { ErrorGroupDrawer } from '../features/problems/components/ErrorGroupDrawer';
import { ErrorGroups } from '../features/problems/components/ErrorGroups';
import { StuckRuns } from '../features/problems/components/StuckRuns';
import { RunDetailDrawer } from '../features/run-detail/components/RunDetailDrawer';
import { PageFilters } from './PageFilters';

export function App() {
  useLiveSync();
  return (
    <>
      <a className="skip-link" href="#history-title">
        Skip to the history
      </a>
      <header className="app-header">
        <h1>
          tasklens <span>monitoring</span>
        </h1>
        <PageFilters />
      </header>
      <main className="layout">
        <div className="layout-main">
          {/* Problems first: stuck runs, then error groups. */}
          <StuckRuns />
          <ErrorGroups />
          <HealthCards />
          <ChartsPanel />
          <HistoryPanel />
        </div>
        <aside className="layout-side">
          <LiveFeed />
        </aside>
      </main>
      <ErrorGroupDrawer />
      <RunDetailDrawer />
    </>
  );
}
