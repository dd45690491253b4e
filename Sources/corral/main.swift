import CLI
import Foundation

// One executable for every tool; see MultiCall.
let status = await MultiCall.main(CommandLine.arguments)
exit(status)
