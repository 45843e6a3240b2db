import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, type TestApp } from '../support/test-app.js';

describe('smoke', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp();
  });
  afterAll(async () => t.close());

  it('creates a project, a key, pushes and reads back', async () => {
    const p = await request(t.app).post('/v1/projects').set(t.admin).send({ id: 'smoke', name: 'Smoke' });
    expect(p.status).toBe(201);
    const k = await request(t.app).post('/v1/projects/smoke/keys').set(t.admin).send({ name: 'k' });
    expect(k.status).toBe(201);
    const push = await request(t.app).post('/v1/projects/smoke/records').set('X-API-Key', k.body.key).send({ a: 1 });
    expect(push.status).toBe(200);
    const id = push.body.records[0].id;
    const got = await request(t.app).get(`/v1/projects/smoke/records/${id}`).set('X-API-Key', k.body.key);
    expect(got.body.data).toEqual({ a: 1 });
    const up = await request(t.app).put('/v1/projects/smoke/files/a.csv').set('X-API-Key', k.body.key).set('content-type','text/csv').send('x,y\n1,2\n');
    expect(up.status).toBe(202);
  });
});
