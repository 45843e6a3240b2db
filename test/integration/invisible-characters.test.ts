// Invisible format characters (Unicode Cf, e.g. the right-to-left override U+202E) in names
// shown to people are refused with their position; in an uploaded file's name they are
// replaced in the object key, and the original name is kept in the object's metadata.
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { uniqueName } from '../support/endpoints.js';
import { bucketObjects, createProjectWithKey, uploadFile, type TestProject } from '../support/ingest.js';
import { expectError } from '../support/security-kit.js';
import { createTestApp, type TestApp } from '../support/test-app.js';

const RLO = '\u202e';

describe('invisible format characters in names', () => {
  let t: TestApp;
  let p: TestProject;
  beforeAll(async () => {
    t = await createTestApp();
    p = await createProjectWithKey(t, 'cf');
  });
  afterAll(async () => t.close());

  it.each([
    [`Acme ${RLO}gpj.exe`, 'U+202E', 6],
    ['zero\u200bwidth', 'U+200B', 5],
    ['\ufeffbom', 'U+FEFF', 1],
  ])('refuses a project named %j (400 invisible_character, the character and its position); nothing is stored', async (name, codePoint, position) => {
    const id = uniqueName('cf');
    const res = await request(t.app).post('/v1/projects').set(t.admin).send({ id, name });
    expectError(res, 400, 'invisible_character');
    expect(res.body.error.message).toContain(`${codePoint} at position ${position}`);
    expect(res.body.error.details).toEqual([{ path: 'name', message: `holds ${codePoint} at position ${position}`, codePoint, position }]);
    expect(await t.storage.control.getProject(id)).toBeNull();
  });

  it('refuses a key name with one, and issues no key', async () => {
    const res = await request(t.app).post(`/v1/projects/${p.id}/keys`).set(t.admin).send({ name: `ci${RLO}bot` });
    expectError(res, 400, 'invisible_character');
    expect(res.body.error.message).toContain('U+202E at position 3');
    const keys = await request(t.app).get(`/v1/projects/${p.id}/keys`).set(t.admin);
    expect(keys.body.items).toHaveLength(1);
  });

  it('replaces them in an uploaded file\'s object key and keeps the original name in its metadata', async () => {
    const name = `report${RLO}vsc.csv`;
    const accepted = await uploadFile(t, p, name, 'a\n1\n');
    const objects = (await bucketObjects(t, p)).filter((o) => o.key.includes(accepted.fileId));
    expect(objects).toHaveLength(1);
    expect(objects[0]!.key).toMatch(/\/report_vsc\.csv$/);
    expect(objects[0]!.key).not.toMatch(/\p{Cf}/u);
    const head = await t.storage.objects.head(p.project.bucketName, objects[0]!.key);
    expect(decodeURIComponent(head!.metadata!['original-name']!)).toBe(name);
  });
});
