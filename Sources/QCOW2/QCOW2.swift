/// The qcow2 image format: parsing, auditing, checking, reading and creating images.
public enum QCOW2 {}
