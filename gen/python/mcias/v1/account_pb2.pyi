import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class AccountType(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    ACCOUNT_TYPE_UNSPECIFIED: _ClassVar[AccountType]
    ACCOUNT_TYPE_HUMAN: _ClassVar[AccountType]
    ACCOUNT_TYPE_SYSTEM: _ClassVar[AccountType]

class AccountStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    ACCOUNT_STATUS_UNSPECIFIED: _ClassVar[AccountStatus]
    ACCOUNT_STATUS_ACTIVE: _ClassVar[AccountStatus]
    ACCOUNT_STATUS_INACTIVE: _ClassVar[AccountStatus]
    ACCOUNT_STATUS_SUSPENDED: _ClassVar[AccountStatus]
    ACCOUNT_STATUS_DELETED: _ClassVar[AccountStatus]
ACCOUNT_TYPE_UNSPECIFIED: AccountType
ACCOUNT_TYPE_HUMAN: AccountType
ACCOUNT_TYPE_SYSTEM: AccountType
ACCOUNT_STATUS_UNSPECIFIED: AccountStatus
ACCOUNT_STATUS_ACTIVE: AccountStatus
ACCOUNT_STATUS_INACTIVE: AccountStatus
ACCOUNT_STATUS_SUSPENDED: AccountStatus
ACCOUNT_STATUS_DELETED: AccountStatus

class Account(_message.Message):
    __slots__ = ("id", "username", "account_type", "status", "totp_enabled", "created_at", "updated_at", "email", "email_verified", "display_name", "given_name", "family_name", "last_login_at", "password_change_required")
    ID_FIELD_NUMBER: _ClassVar[int]
    USERNAME_FIELD_NUMBER: _ClassVar[int]
    ACCOUNT_TYPE_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    TOTP_ENABLED_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    UPDATED_AT_FIELD_NUMBER: _ClassVar[int]
    EMAIL_FIELD_NUMBER: _ClassVar[int]
    EMAIL_VERIFIED_FIELD_NUMBER: _ClassVar[int]
    DISPLAY_NAME_FIELD_NUMBER: _ClassVar[int]
    GIVEN_NAME_FIELD_NUMBER: _ClassVar[int]
    FAMILY_NAME_FIELD_NUMBER: _ClassVar[int]
    LAST_LOGIN_AT_FIELD_NUMBER: _ClassVar[int]
    PASSWORD_CHANGE_REQUIRED_FIELD_NUMBER: _ClassVar[int]
    id: str
    username: str
    account_type: AccountType
    status: AccountStatus
    totp_enabled: bool
    created_at: _timestamp_pb2.Timestamp
    updated_at: _timestamp_pb2.Timestamp
    email: str
    email_verified: bool
    display_name: str
    given_name: str
    family_name: str
    last_login_at: _timestamp_pb2.Timestamp
    password_change_required: bool
    def __init__(self, id: _Optional[str] = ..., username: _Optional[str] = ..., account_type: _Optional[_Union[AccountType, str]] = ..., status: _Optional[_Union[AccountStatus, str]] = ..., totp_enabled: _Optional[bool] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., updated_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., email: _Optional[str] = ..., email_verified: _Optional[bool] = ..., display_name: _Optional[str] = ..., given_name: _Optional[str] = ..., family_name: _Optional[str] = ..., last_login_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., password_change_required: _Optional[bool] = ...) -> None: ...
