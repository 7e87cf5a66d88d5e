export { createDatabase, startPostgres, type TestPostgres } from './postgres.ts'
