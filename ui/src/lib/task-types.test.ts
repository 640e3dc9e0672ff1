import { describe, expect, it } from 'vitest';
import { countTaskTypes, sameTaskType, taskTypeKey, taskTypeLabeler, type TaskType } from './task-types';

const type = (task_name: string, service: string | null = null, environment: string | null = null): TaskType => ({
  task_name,
  service,
  environment,
});

describe('taskTypeLabeler', () => {
  it('shows bare names when no name stands for two task types', () => {
    const shown = [type('a', 'billing', 'prod'), type('b', 'shipping', 'prod'), type('c')];
    const labelOf = taskTypeLabeler(shown);
    expect(shown.map(labelOf)).toEqual([
      { name: 'a', qualifier: null, text: 'a' },
      { name: 'b', qualifier: null, text: 'b' },
      { name: 'c', qualifier: null, text: 'c' },
    ]);
  });

  it('does not count the same task type twice as a collision (two runs of one type)', () => {
    const labelOf = taskTypeLabeler([type('a', 'billing'), type('a', 'billing')]);
    expect(labelOf(type('a', 'billing')).qualifier).toBeNull();
  });

  it('gives the service to each type of a shared name, and only to those', () => {
    const labelOf = taskTypeLabeler([type('a', 'billing', 'prod'), type('a', 'shipping', 'prod'), type('b', 'billing', 'prod')]);
    expect(labelOf(type('a', 'billing', 'prod'))).toEqual({ name: 'a', qualifier: 'billing', text: 'a (billing)' });
    expect(labelOf(type('a', 'shipping', 'prod')).text).toBe('a (shipping)');
    expect(labelOf(type('b', 'billing', 'prod')).qualifier).toBeNull();
  });

  it('adds the environment when the types of a shared name differ by it', () => {
    const labelOf = taskTypeLabeler([type('a', 'billing', 'prod'), type('a', 'billing', 'staging'), type('a', 'shipping', 'prod')]);
    expect(labelOf(type('a', 'billing', 'prod')).qualifier).toBe('billing, prod');
    expect(labelOf(type('a', 'billing', 'staging')).qualifier).toBe('billing, staging');
    expect(labelOf(type('a', 'shipping', 'prod')).qualifier).toBe('shipping, prod');
  });

  it('names a missing service or environment, and takes undefined (an older API) as missing', () => {
    const labelOf = taskTypeLabeler([type('a', 'billing', 'prod'), type('a', null, null)]);
    expect(labelOf(type('a')).text).toBe('a (no service, no environment)');
    const older = { task_name: 'a' } as unknown as TaskType;
    expect(taskTypeLabeler([older, older])(older).qualifier).toBeNull();
    expect(sameTaskType(older, type('a'))).toBe(true);
  });

  it('leaves a type that is not in the list bare', () => {
    expect(taskTypeLabeler([type('a', 'x'), type('a', 'y')])(type('b', 'x')).qualifier).toBeNull();
  });
});

describe('taskTypeKey', () => {
  it('tells apart every field, and cannot be fooled by separators in the values', () => {
    expect(taskTypeKey(type('a', 'b'))).not.toBe(taskTypeKey(type('a', null, 'b')));
    expect(taskTypeKey(type('a,b', 'c'))).not.toBe(taskTypeKey(type('a', 'b,c')));
    expect(countTaskTypes([type('a'), type('a'), type('a', 'billing')])).toBe(2);
  });
});
