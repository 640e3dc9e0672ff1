import type { ReactNode } from 'react';
import { StatusBadge } from '../../../components/StatusBadge';
import type { TaskDetail } from '../../../lib/api-types';
import { formatDuration, formatTime } from '../../../lib/format';
import { hrefWithSearch, updateSearch } from '../../../lib/url-state';
import { CopyButton } from './CopyButton';

/** Everything known about one run. Task data is rendered as text only (React escapes it). */
export function RunDetail({ run }: { run: TaskDetail }) {
  const params = run.params === null || run.params === undefined ? null : JSON.stringify(run.params, null, 2);
  return (
    <div className="run-detail">
      <dl className="detail-grid">
        <Row term="Status">
          <StatusBadge status={run.status} />
        </Row>
        <Row term="Task id">{run.task_id}</Row>
        <Row term="Attempt">{run.attempt}</Row>
        <Row term="Source">{run.source}</Row>
        <Row term="Queue">{run.queue ?? '–'}</Row>
        <Row term="Service">{run.service_name ?? '–'}</Row>
        <Row term="Environment">{run.environment ?? '–'}</Row>
        <Row term="Worker host">{run.worker_host ?? '–'}</Row>
        <Row term="Enqueued">{formatTime(run.enqueued_at)}</Row>
        <Row term="Started">{formatTime(run.started_at)}</Row>
        <Row term="Completed">{formatTime(run.completed_at)}</Row>
        <Row term="Queue wait">{formatDuration(run.queue_wait_ms)}</Row>
        <Row term="Duration">{formatDuration(run.duration_ms)}</Row>
        <Row term="Created">{formatTime(run.created_at)}</Row>
        <Row term="Updated">{formatTime(run.updated_at)}</Row>
        <Row term="Trace id">
          <code data-testid="trace-id">{run.trace_id ?? '–'}</code>
        </Row>
        <Row term="Span id">
          <code>{run.span_id ?? '–'}</code>
        </Row>
      </dl>

      {(run.error_message || run.error_type) && (
        <section aria-labelledby="run-error-title">
          <h3 id="run-error-title">Error{run.error_type ? `: ${run.error_type}` : ''}</h3>
          <p className="error-message" data-testid="error-message">
            {run.error_message}
          </p>
        </section>
      )}

      {run.error_traceback && (
        <section aria-labelledby="run-traceback-title">
          <div className="section-title">
            <h3 id="run-traceback-title">Traceback</h3>
            <CopyButton text={run.error_traceback} label="Copy traceback" />
          </div>
          <pre className="code-block" data-testid="traceback">
            {run.error_traceback}
          </pre>
        </section>
      )}

      <section aria-labelledby="run-params-title">
        <h3 id="run-params-title">Params</h3>
        {params === null ? (
          <p className="state-empty">No parameters recorded.</p>
        ) : (
          <pre className="code-block" data-testid="params">
            {params}
          </pre>
        )}
      </section>

      <section aria-labelledby="run-attempts-title">
        <h3 id="run-attempts-title">Other attempts</h3>
        {run.other_attempts.length === 0 ? (
          <p className="state-empty">This is the only attempt of task {run.task_id}.</p>
        ) : (
          <ul className="attempts">
            {run.other_attempts.map((attempt) => (
              <li key={attempt.id}>
                <a
                  href={hrefWithSearch({ run: attempt.id })}
                  onClick={(event) => {
                    event.preventDefault();
                    updateSearch({ run: attempt.id });
                  }}
                >
                  Attempt {attempt.attempt}
                </a>{' '}
                <StatusBadge status={attempt.status} /> {formatTime(attempt.created_at)} · {formatDuration(attempt.duration_ms)}
                {attempt.error_message && <span className="feed-error"> {attempt.error_message}</span>}
              </li>
            ))}
          </ul>
        )}
      </section>
    </div>
  );
}

function Row({ term, children }: { term: string; children: ReactNode }) {
  return (
    <div>
      <dt>{term}</dt>
      <dd>{children}</dd>
    </div>
  );
}
