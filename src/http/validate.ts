import type { Static, TSchema } from '@sinclair/typebox'
import { TypeCompiler, type TypeCheck } from '@sinclair/typebox/compiler'
import { ValueErrorType } from '@sinclair/typebox/errors'
import { AppError, type FieldError } from './problems'

const compiled = new WeakMap<TSchema, TypeCheck<TSchema>>()

const fieldName = (path: string): string => path.split('/').pop() || 'body'

/** A message a client can act on; TypeBox's own ("Expected union value") rarely is. */
const messageOf = (type: ValueErrorType, path: string, schema: TSchema, fallback: string): string => {
  switch (type) {
    case ValueErrorType.ObjectAdditionalProperties:
      return `unknown field '${fieldName(path)}'`
    case ValueErrorType.ObjectRequiredProperty:
      return `${fieldName(path)} is required`
    case ValueErrorType.Object:
      return path === '' ? 'the body must be a JSON object' : `${fieldName(path)} must be an object`
    case ValueErrorType.ObjectMinProperties:
      return 'the body must name at least one field'
    default:
      return typeof schema.errorMessage === 'string' ? schema.errorMessage : `${fieldName(path)}: ${fallback}`
  }
}

/** Checks `value` against `schema`; throws one 400 listing every bad field (first problem per field). */
export const validate = <S extends TSchema>(schema: S, value: unknown): Static<S> => {
  let check = compiled.get(schema)
  if (check === undefined) {
    check = TypeCompiler.Compile(schema)
    compiled.set(schema, check)
  }
  if (check.Check(value)) return value as Static<S>
  const errors: FieldError[] = []
  const seen = new Set<string>()
  for (const e of check.Errors(value)) {
    if (seen.has(e.path)) continue
    seen.add(e.path)
    errors.push({ path: e.path, message: messageOf(e.type, e.path, e.schema, e.message) })
  }
  throw new AppError('validation', errors.map((e) => e.message).join('; '), { errors })
}
