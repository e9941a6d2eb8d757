/**
 * Preloaded (`node --import`) into every plane that the `keygate` wrapper starts as a child with
 * an IPC channel: when the wrapper dies, even by kill -9, the channel closes and the child stops
 * itself with SIGTERM (its own graceful stop), so no orphan keeps holding the port.
 * A process started without an IPC channel (run directly) is not affected.
 */
if (process.send !== undefined && process.channel !== undefined) {
  // The channel must not keep the plane alive on its own, only tell it when the parent is gone.
  process.channel.unref();
  process.once('disconnect', () => {
    process.stderr.write('keygate: parent process is gone; stopping\n');
    process.kill(process.pid, 'SIGTERM');
  });
}

export {};
