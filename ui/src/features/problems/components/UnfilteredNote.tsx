import { hasServiceFilter, useServiceFilter } from '../../../lib/service-filter';

/** The stuck runs and error groups are not told apart by service yet: say so under a filter. */
export function UnfilteredNote() {
  if (!hasServiceFilter(useServiceFilter())) return null;
  return (
    <p className="panel-note" data-testid="problems-unfiltered">
      All services and environments: this list is not narrowed by the service filter.
    </p>
  );
}
