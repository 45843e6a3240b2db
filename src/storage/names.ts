/** Every table and bucket Intake creates is named from one configurable prefix. */
export const storageNames = (prefix: string) => ({
  controlTable: `${prefix}control`,
  recordsTable: (projectId: string) => `${prefix}${projectId}-records`,
  bucket: (projectId: string) => `${prefix}${projectId}`,
  probeBucket: `${prefix}readyz-probe`,
});
