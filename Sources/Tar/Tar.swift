/// Streaming POSIX tar reading and writing that keeps sparse files sparse.
public enum Tar {}
