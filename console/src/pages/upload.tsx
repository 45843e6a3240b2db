import { useRef, useState, type DragEvent } from 'react';
import { api, formatBytes, projectPath, uploadFile, type ApiError, type UploadHandle, type UploadProgress } from '../api';
import { asApiError, ErrorBox, NotFound, useLoad } from '../components';
import { JobProgress, useLiveJob } from './jobs';

export function UploadPage({ projectId }: { projectId: string }) {
  const project = useLoad(() => api('GET', projectPath(projectId)), [projectId]);
  const [file, setFile] = useState<File>();
  const [progress, setProgress] = useState<UploadProgress>();
  const [error, setError] = useState<ApiError>();
  const [jobId, setJobId] = useState<string>();
  const [dragging, setDragging] = useState(false);
  const [uploading, setUploading] = useState(false);
  const handle = useRef<UploadHandle>(undefined);
  const live = useLiveJob(projectId, jobId);
  if (project.error?.status === 404) return <NotFound what={`There is no project with the id ${projectId}.`} />;

  const start = async (chosen: File) => {
    setFile(chosen);
    setError(undefined);
    setJobId(undefined);
    setProgress({ loaded: 0, total: chosen.size, bytesPerSecond: 0, secondsLeft: undefined });
    handle.current = uploadFile(projectId, chosen, setProgress);
    setUploading(true);
    try {
      const answer = await handle.current.done;
      setJobId(answer.jobId);
    } catch (caught) {
      setError(asApiError(caught));
    } finally {
      handle.current = undefined;
      setUploading(false);
    }
  };

  const drop = (event: DragEvent) => {
    event.preventDefault();
    setDragging(false);
    const dropped = event.dataTransfer.files[0];
    if (dropped) void start(dropped);
  };

  return (
    <section aria-labelledby="upload-title">
      <h1 id="upload-title">Upload a file</h1>
      <div
        className={dragging ? 'dropzone dragging' : 'dropzone'}
        onDragOver={(e) => {
          e.preventDefault();
          setDragging(true);
        }}
        onDragLeave={() => setDragging(false)}
        onDrop={drop}
      >
        <p>Drop a CSV, TSV, JSON, NDJSON or XML file (or a gzip of one) here, or</p>
        <label htmlFor="upload-file" className="button">
          Choose a file
        </label>
        <input
          id="upload-file"
          type="file"
          className="file-input"
          disabled={uploading}
          onChange={(e) => {
            const chosen = e.target.files?.[0];
            e.target.value = '';
            if (chosen) void start(chosen);
          }}
        />
      </div>
      {file && progress && (
        <div className="upload-progress" aria-live="polite">
          <p>
            <strong>{file.name}</strong>: {formatBytes(progress.loaded)} of {formatBytes(file.size)}
            {uploading && (
              <>
                {' '}
                at {(progress.bytesPerSecond / 1024 / 1024).toFixed(1)} MiB/s
                {progress.secondsLeft !== undefined && `, ${Math.ceil(progress.secondsLeft)} s left`}
              </>
            )}
          </p>
          <progress id="upload-bar" max={Math.max(1, file.size)} value={progress.loaded} aria-label="Upload progress" />
          {uploading && (
            <button type="button" onClick={() => handle.current?.cancel()}>
              Cancel upload
            </button>
          )}
        </div>
      )}
      <ErrorBox error={error} />
      {live.job && <JobProgress projectId={projectId} job={live.job} rate={live.rate} />}
    </section>
  );
}
