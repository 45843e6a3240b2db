// The Parquet writer thread's entry when the service runs from its TypeScript sources
// (npm start, the tests). A worker thread does not inherit the loader that `--import tsx`
// gave the main thread, so this plain module registers tsx in the thread itself and then
// loads the writer. A build runs the compiled parquet-worker.js directly and never this.
import { register } from 'tsx/esm/api';

register();
await import('./parquet-worker.ts');
