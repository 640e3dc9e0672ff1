import { ChoiceSelect } from '../components/FilterSelects';
import { setServiceFilter, useServiceFilter } from '../lib/service-filter';
import { useServiceChoices } from '../lib/task-names';

/** The page's service and environment filters; each change is a history entry (Back undoes it). */
export function PageFilters() {
  const filter = useServiceFilter();
  const { services, environments } = useServiceChoices();
  return (
    <div className="page-filters" role="group" aria-label="Service and environment">
      <ChoiceSelect
        id="page-service"
        label="Service"
        allLabel="All services"
        value={filter.service}
        choices={services}
        onChange={(service) => setServiceFilter({ service })}
      />
      <ChoiceSelect
        id="page-environment"
        label="Environment"
        allLabel="All environments"
        value={filter.environment}
        choices={environments}
        onChange={(environment) => setServiceFilter({ environment })}
      />
    </div>
  );
}
