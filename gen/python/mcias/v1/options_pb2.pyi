from google.protobuf import descriptor_pb2 as _descriptor_pb2
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from typing import ClassVar as _ClassVar

DESCRIPTOR: _descriptor.FileDescriptor

class Permission(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    PERMISSION_UNSPECIFIED: _ClassVar[Permission]
    PERMISSION_PUBLIC: _ClassVar[Permission]
    PERMISSION_AUTHENTICATED: _ClassVar[Permission]
    PERMISSION_SELF_OR_ADMIN: _ClassVar[Permission]
    PERMISSION_ADMIN: _ClassVar[Permission]
PERMISSION_UNSPECIFIED: Permission
PERMISSION_PUBLIC: Permission
PERMISSION_AUTHENTICATED: Permission
PERMISSION_SELF_OR_ADMIN: Permission
PERMISSION_ADMIN: Permission
PERMISSION_FIELD_NUMBER: _ClassVar[int]
permission: _descriptor.FieldDescriptor
