// The `peregrine` command: everything but this call lives in PeregrineCommands, where the
// tests reach it.
import Foundation
import PeregrineCommands

exit(PeregrineCommand.execute(Array(CommandLine.arguments.dropFirst())))
