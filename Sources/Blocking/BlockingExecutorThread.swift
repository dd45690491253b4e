import Glibc

/// pthread entry of a blocking-executor worker: a plain function, as every C callback here.
func blockingExecutorThreadMain(_ context: UnsafeMutableRawPointer?) -> UnsafeMutableRawPointer? {
    let executor = Unmanaged<BlockingExecutor>.fromOpaque(context!).takeRetainedValue()
    executor.workerLoop()
    return nil
}
