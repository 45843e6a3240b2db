import { Link } from 'wouter';
import { api, formatTime, type ApiError } from '../api';
import { ErrorBox, useLoad } from '../components';

interface Overview {
  projects: Array<{ id: string; name: string; records: number; jobs: { running: number; failed: number } }>;
  ingestedPerHour: Array<{ hour: string; records: number }>;
  alerts: Array<{ at: string; kind: string; projectId: string; message: string }>;
}

export function OverviewPage() {
  const { data, error, loading } = useLoad(() => loadOverview(), []);
  return (
    <section aria-labelledby="overview-title">
      <h1 id="overview-title">Overview</h1>
      <ErrorBox error={error} />
      {loading && !data && <p className="loading">Loading…</p>}
      {data && (
        <>
          {data.partial ? (
            <p className="notice">This service has no overview route: counts, the chart and alerts are not available.</p>
          ) : (
            <>
              <h2>Records ingested per hour, last 24 hours</h2>
              <HourChart hours={data.ingestedPerHour} />
            </>
          )}
          <h2>Projects</h2>
          {data.projects.length === 0 ? (
            <p>
              No projects yet. <Link href="/projects">Create one</Link>.
            </p>
          ) : (
            <table>
              <thead>
                <tr>
                  <th scope="col">Project</th>
                  <th scope="col" className="num">Records</th>
                  <th scope="col" className="num">Jobs running</th>
                  <th scope="col" className="num">Jobs failed</th>
                </tr>
              </thead>
              <tbody>
                {data.projects.map((project) => (
                  <tr key={project.id}>
                    <td>
                      <Link href={`/projects/${encodeURIComponent(project.id)}`}>{project.name}</Link> <code>{project.id}</code>
                    </td>
                    <td className="num">{count(project.records)}</td>
                    <td className="num">{count(project.jobs.running)}</td>
                    <td className={project.jobs.failed > 0 ? 'num bad' : 'num'}>{count(project.jobs.failed)}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          )}
          <h2>Latest alerts</h2>
          {data.alerts.length === 0 ? (
            <p>No alerts.</p>
          ) : (
            <ul className="alerts">
              {data.alerts.map((alert, index) => (
                <li key={`${alert.at}-${index}`}>
                  <time dateTime={alert.at}>{formatTime(alert.at)}</time> <strong>{alert.kind}</strong> <code>{alert.projectId}</code>{' '}
                  {alert.message}
                </li>
              ))}
            </ul>
          )}
        </>
      )}
    </section>
  );
}

function count(n: number): string {
  return Number.isNaN(n) ? '—' : n.toLocaleString();
}

/**
 * A service older than the console's overview route answers 404 route_not_found for it: the
 * page then still lists the projects (from GET /v1/projects), without counts or a chart.
 */
async function loadOverview(): Promise<Overview & { partial?: true }> {
  try {
    return await api<Overview>('GET', '/v1/overview');
  } catch (error) {
    if ((error as ApiError).code !== 'route_not_found') throw error;
    const projects = await api<{ items: Array<{ id: string; name: string }> }>('GET', '/v1/projects?limit=100');
    return {
      partial: true,
      projects: projects.items.map((p) => ({ id: p.id, name: p.name, records: Number.NaN, jobs: { running: Number.NaN, failed: Number.NaN } })),
      ingestedPerHour: [],
      alerts: [],
    };
  }
}

/** A bar per hour, drawn as SVG: no chart library, nothing that needs inline styles. */
function HourChart({ hours }: { hours: Overview['ingestedPerHour'] }) {
  const width = 720;
  const height = 160;
  const pad = 24;
  const max = Math.max(1, ...hours.map((hour) => hour.records));
  const slot = (width - pad) / Math.max(1, hours.length);
  const total = hours.reduce((sum, hour) => sum + hour.records, 0);
  return (
    <figure className="chart">
      <svg viewBox={`0 0 ${width} ${height + 20}`} role="img" aria-label={`${total.toLocaleString()} records in the last 24 hours, at most ${max.toLocaleString()} in one hour`}>
        <line x1={pad} y1={height} x2={width} y2={height} className="axis" />
        <text x={0} y={12} className="label">
          {max.toLocaleString()}
        </text>
        {hours.map((hour, index) => {
          const barHeight = (hour.records / max) * (height - 20);
          const x = pad + index * slot + 2;
          return (
            <g key={hour.hour}>
              <rect x={x} y={height - barHeight} width={Math.max(1, slot - 4)} height={barHeight} className="bar">
                <title>{`${new Date(hour.hour).toLocaleString()}: ${hour.records.toLocaleString()} records`}</title>
              </rect>
              {index % 4 === 0 && (
                <text x={x} y={height + 16} className="label">
                  {new Date(hour.hour).getHours().toString().padStart(2, '0')}:00
                </text>
              )}
            </g>
          );
        })}
      </svg>
      <figcaption>{total.toLocaleString()} records in the last 24 hours</figcaption>
    </figure>
  );
}
