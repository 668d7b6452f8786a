/**
 * `StreamCorrupt`, kept at this path for imports of `@effect-snapshots/loader/StreamCorrupt`: the class lives with
 * the repository's other errors in `RepositoryError`.
 *
 * @since 0.2.0
 */
export {
  /**
   * @since 0.2.0
   * @category errors
   */
  StreamCorrupt
} from "./RepositoryError.js"
