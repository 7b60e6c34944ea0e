/**
 * @module cli/common
 * What every command shares: the data-dir option.
 */
export const DATA_DIR_HELP = 'data directory (default: $REVOADA_DATA_DIR or ./.revoada)'

export function dataDirOf (opts: { dataDir?: string }): string {
  return opts.dataDir ?? process.env.REVOADA_DATA_DIR ?? './.revoada'
}
