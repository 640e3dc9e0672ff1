import { useMutation, useQueryClient } from '@tanstack/react-query';
import { apiPost } from '../../../lib/api-client';
import type { ErrorGroupDetail, GroupState, GroupStateChange } from '../../../lib/api-types';
import { queryKeys } from '../../../lib/query-keys';

export const setGroupState = (id: number, state: GroupState) =>
  apiPost<ErrorGroupDetail>(`/api/v1/monitoring/errors/${id}/state`, { state } satisfies GroupStateChange);

/** Resolves, ignores or reopens group `id`, then refreshes every error query (lists and groups). */
export function useSetGroupState(id: number) {
  const queryClient = useQueryClient();
  return useMutation({
    mutationFn: (state: GroupState) => setGroupState(id, state),
    onSuccess: async (changed) => {
      // The answer has the new state but no runs (latest_runs is empty): keep the runs shown.
      queryClient.setQueryData<ErrorGroupDetail>(queryKeys.errorGroup(id), (previous) => ({
        ...changed,
        latest_runs: previous?.latest_runs ?? changed.latest_runs,
      }));
      await queryClient.invalidateQueries({ queryKey: queryKeys.errorsAll });
    },
  });
}
