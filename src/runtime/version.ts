// A JSON import is resolved by the bundler: `bun build --compile` inlines the version, so the
// binary knows it without package.json beside it.
import { version } from '../../package.json'

/** The service's version, from package.json. */
export const VERSION: string = version
