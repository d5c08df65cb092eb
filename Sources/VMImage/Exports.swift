// `FilePath` is in every signature of this module (image folders, archives, instance disks),
// so it is re-exported: `import VMImage` alone is enough to name it, and a user's package need
// not depend on swift-system itself. Chosen over `String` overloads because one path type
// keeps the API half the size and carries file names that are not valid UTF-8 unchanged;
// `FilePath` is `ExpressibleByStringLiteral`, so `ImageManager(imageFolder: "/var/images", …)`
// reads as it would with `String`. Only the one type is re-exported, not all of SystemPackage.
@_exported import struct SystemPackage.FilePath
