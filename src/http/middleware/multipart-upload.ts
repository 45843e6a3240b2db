import type { Request, Response, NextFunction } from 'express';
import multer, { MulterError, type StorageEngine } from 'multer';
import { AppError, errors } from '../../errors.js';
import type { FileUploadService, StoredFile } from '../../ingest/file-upload.service.js';

/** The part as stored; its job is queued by the route once the whole request is valid. */
export type UploadedFile = Express.Multer.File & { stored?: StoredFile };

/**
 * A multer storage engine that streams the `file` part straight into the object store
 * through the upload service: never to local disk, never whole in memory.
 */
class ObjectStoreEngine implements StorageEngine {
  constructor(private readonly uploads: FileUploadService) {}

  _handleFile(req: Request, file: Express.Multer.File, callback: (error?: unknown, info?: Partial<UploadedFile>) => void): void {
    const res = req.res as Response;
    const abort = new AbortController();
    req.once('close', () => {
      if (!req.complete) abort.abort(new Error('client disconnected'));
    });
    // busboy truncates a part at the size limit and reports it with 'limit': fail the upload
    // inside the stream so the partial object is removed.
    file.stream.once('limit', () => abort.abort(errors.payloadTooLarge(Number(file.size ?? 0))));
    this.uploads
      .store({
        project: res.locals.project!,
        fileName: file.originalname,
        body: file.stream,
        contentType: file.mimetype,
        signal: abort.signal,
      })
      .then((stored) => callback(null, { size: stored.bytes, stored }))
      .catch((error: unknown) => callback(abort.signal.reason instanceof AppError ? abort.signal.reason : error));
  }

  _removeFile(_req: Request, file: UploadedFile, callback: (error: Error | null) => void): void {
    // Called when the request fails after this part was stored (too many fields, a second
    // file, a malformed tail): the object goes; it has no job yet. A failed store() already
    // removed what it wrote.
    if (!file.stored) {
      callback(null);
      return;
    }
    this.uploads.discard(file.stored).then(
      () => callback(null),
      (error: unknown) => callback(error instanceof Error ? error : new Error(String(error))),
    );
  }
}

const MULTER_CODES: Record<string, [number, string]> = {
  LIMIT_FILE_SIZE: [413, 'payload_too_large'],
  LIMIT_PART_COUNT: [413, 'too_many_parts'],
  LIMIT_FILE_COUNT: [400, 'too_many_files'],
  LIMIT_FIELD_KEY: [400, 'field_name_too_long'],
  LIMIT_FIELD_VALUE: [413, 'field_too_large'],
  LIMIT_FIELD_COUNT: [413, 'too_many_fields'],
  LIMIT_UNEXPECTED_FILE: [400, 'unexpected_file_field'],
  MISSING_FIELD_NAME: [400, 'missing_field_name'],
};

/** `multipart/form-data` with one part named `file`, with bounded parts, fields and headers. */
export function multipartFile(uploads: FileUploadService, maxFileBytes: number) {
  const upload = multer({
    storage: new ObjectStoreEngine(uploads),
    limits: { fileSize: maxFileBytes, files: 1, fields: 20, parts: 25, fieldSize: 64 * 1024, headerPairs: 100 },
  }).single('file');
  return (req: Request, res: Response, next: NextFunction) => {
    upload(req, res, (error?: unknown) => {
      if (error instanceof MulterError) {
        const [status, code] = MULTER_CODES[error.code] ?? [400, 'invalid_multipart'];
        next(new AppError(status, code, `Multipart upload refused: ${error.message}.`));
        return;
      }
      if (error instanceof Error && !(error instanceof AppError) && /multipart|boundary|busboy|unexpected end of (form|file)|malformed part header/i.test(error.message)) {
        next(new AppError(400, 'invalid_multipart', `The multipart body is malformed: ${error.message}`));
        return;
      }
      next(error);
    });
  };
}
